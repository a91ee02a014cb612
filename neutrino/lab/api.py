"""A small Neutron v2.0 HTTP client for the lab, the `neutrino` CLI and tests
(noauth: no headers means admin of the default project)."""
from __future__ import annotations

from typing import Any

import httpx


class ApiError(RuntimeError):
    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class NeutronApi:
    def __init__(self, url: str, timeout: float = 30.0, headers: dict[str, str] | None = None):
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout, headers=headers or {})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> NeutronApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, body: dict | None = None,
                params: dict | None = None) -> Any:
        resp = self._http.request(method, path, json=body, params=params)
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
    def find_network(self, name_or_id: str) -> dict:
        try:
            return self.show("networks", name_or_id)
        except ApiError as exc:
            if exc.status not in (404, 400):
                raise
        found = self.list("networks", name=name_or_id)
        if len(found) != 1:
            raise ApiError(404, f"network {name_or_id!r}: {len(found)} match(es)")
        return found[0]

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
