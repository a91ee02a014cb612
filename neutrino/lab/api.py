"""A small Neutron v2.0 HTTP client for the lab, the `neutrino` CLI and tests
(noauth: no headers means admin of the default project; keystone: a token
from Keystone v3 password auth, fetched again when it is refused)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


class ApiError(RuntimeError):
    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Credentials:
    """Keystone v3 password auth, project-scoped (Default domain)."""
    auth_url: str          # .../v3
    username: str
    password: str
    project_name: str

    def token_request(self) -> dict:
        domain = {"name": "Default"}
        return {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": self.username, "domain": domain, "password": self.password}}},
            "scope": {"project": {"name": self.project_name, "domain": domain}}}}


class NeutronApi:
    def __init__(self, url: str, timeout: float = 30.0, headers: dict[str, str] | None = None,
                 credentials: Credentials | None = None):
        self.url = url.rstrip("/")
        self.credentials = credentials
        self._http = httpx.Client(base_url=self.url, timeout=timeout, headers=headers or {})
        self._token: str | None = None

    def token(self) -> str:
        """A token of `credentials` (new one from Keystone)."""
        assert self.credentials is not None
        resp = self._http.post(self.credentials.auth_url.rstrip("/") + "/auth/tokens",
                               json=self.credentials.token_request())
        if resp.status_code != 201:
            raise ApiError(resp.status_code, f"keystone refused {self.credentials.username}: "
                                             f"{resp.text[:200]}")
        self._token = resp.headers["X-Subject-Token"]
        return self._token

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> NeutronApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, body: dict | None = None,
                params: dict | None = None) -> Any:
        if self.credentials is None:
            resp = self._http.request(method, path, json=body, params=params)
        else:
            resp = self._http.request(method, path, json=body, params=params,
                                      headers={"X-Auth-Token": self._token or self.token()})
            if resp.status_code == 401:   # expired or revoked: once more with a new one
                resp = self._http.request(method, path, json=body, params=params,
                                          headers={"X-Auth-Token": self.token()})
        if resp.status_code >= 400:
            try:
                err = resp.json().get("NeutronError", {})
                message = err.get("message") or resp.text
            except ValueError:
                message = resp.text
            raise ApiError(resp.status_code, message)
        return resp.json() if resp.content else None

    # --- generic -------------------------------------------------------------
    def create(self, collection: str, body: dict) -> dict:
        singular = collection[:-1]
        return self.request("POST", f"/v2.0/{collection}", {singular: body})[singular]

    def show(self, collection: str, rid: str) -> dict:
        singular = collection[:-1]
        return self.request("GET", f"/v2.0/{collection}/{rid}")[singular]

    def update(self, collection: str, rid: str, body: dict) -> dict:
        singular = collection[:-1]
        return self.request("PUT", f"/v2.0/{collection}/{rid}", {singular: body})[singular]

    def delete(self, collection: str, rid: str, missing_ok: bool = False) -> None:
        try:
            self.request("DELETE", f"/v2.0/{collection}/{rid}")
        except ApiError as exc:
            if not (missing_ok and exc.status == 404):
                raise

    def list(self, collection: str, **filters: Any) -> list[dict]:
        key = collection.replace("-", "_")
        return self.request("GET", f"/v2.0/{collection}", params=filters or None)[key]

    # --- conveniences ----------------------------------------------------------
    def find(self, collection: str, name_or_id: str) -> dict:
        """A resource by id, else by name (as every `openstack` command takes
        either); a name that several carry is an error naming their ids."""
        singular = collection[:-1]
        try:
            return self.show(collection, name_or_id)
        except ApiError as exc:
            if exc.status not in (404, 400):
                raise
        found = self.list(collection, name=name_or_id)
        if not found:
            raise ApiError(404, f"no {singular} with id or name {name_or_id!r}")
        if len(found) > 1:
            ids = ", ".join(sorted(r["id"] for r in found))
            raise ApiError(409, f"{len(found)} {collection} are named {name_or_id!r}: {ids} "
                                f"(give an id)")
        return found[0]

    def find_network(self, name_or_id: str) -> dict:
        return self.find("networks", name_or_id)

    def find_project(self, name_or_id: str) -> str:
        """The id of a project: with keystone, looked up by id or name in
        the identity; with noauth, projects are whatever ids callers send."""
        if self.credentials is None:
            return name_or_id
        base = self.credentials.auth_url.rstrip("/")
        headers = {"X-Auth-Token": self._token or self.token()}
        resp = self._http.get(f"{base}/projects/{name_or_id}", headers=headers)
        if resp.status_code == 200:
            return resp.json()["project"]["id"]
        resp = self._http.get(f"{base}/projects", params={"name": name_or_id}, headers=headers)
        found = resp.json().get("projects", []) if resp.status_code == 200 else []
        if len(found) != 1:
            raise ApiError(404, f"project {name_or_id!r}: {len(found)} match(es) in keystone")
        return found[0]["id"]

    def create_network(self, name: str, network_type: str | None = None,
                       physical_network: str | None = None,
                       segmentation_id: int | None = None, **extra: Any) -> dict:
        body: dict[str, Any] = {"name": name, **extra}
        if network_type:
            body["provider:network_type"] = network_type
        if physical_network:
            body["provider:physical_network"] = physical_network
        if segmentation_id is not None:
            body["provider:segmentation_id"] = segmentation_id
        return self.create("networks", body)

    def create_subnet(self, network_id: str, cidr: str, **extra: Any) -> dict:
        return self.create("subnets", {"network_id": network_id, "cidr": cidr,
                                       "ip_version": 4, **extra})
