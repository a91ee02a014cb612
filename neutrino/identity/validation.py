"""Token validators for the API server and the per-worker token cache.

- EmbeddedValidator: tokens of the embedded identity. A MAC and expiry check
  (no I/O) plus the in-memory revocation events, which each worker re-reads
  from the database every [identity] revocation_check_interval seconds.
- RemoteValidator: tokens of a real Keystone, as keystonemiddleware does it:
  the service authenticates itself with the [keystone_authtoken] password
  credentials and validates each new user token with
  GET /v3/auth/tokens (X-Subject-Token), ?nocatalog.

Both return a Principal, which the cache keeps until the token expires (the
remote one at most token_cache_time seconds). No token or password is ever
logged.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import httpx

from neutrino.identity.store import IdentityStore
from neutrino.identity.tokens import InvalidToken, TokenData, TokenSigner, now_us

LOG = logging.getLogger(__name__)

__all__ = ["InvalidToken", "IdentityUnavailable", "Principal", "TokenCache",
           "Revocations", "EmbeddedValidator", "RemoteValidator", "parse_time"]


class IdentityUnavailable(Exception):
    """Keystone could not be asked (down, or the service credentials are refused)."""


@dataclass(frozen=True)
class Principal:
    user_id: str
    project_id: str
    roles: frozenset
    expires_at: float                  # epoch seconds
    cache_until: float                 # epoch seconds
    audit_ids: tuple[str, ...] = ()
    issued_us: int = 0
    domain_id: str = ""


def parse_time(text: str) -> float:
    """Keystone's ISO 8601 times (…Z or +00:00) to epoch seconds."""
    text = text.strip().replace("Z", "+00:00")
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.timestamp()


class TokenCache:
    """Bounded LRU of token → Principal; entries die at their cache_until."""

    def __init__(self, size: int = 10000):
        self.size = size
        self.entries: OrderedDict[str, Principal] = OrderedDict()

    def get(self, token: str) -> Principal | None:
        p = self.entries.get(token)
        if p is None:
            return None
        if p.cache_until <= time.time():
            self.entries.pop(token, None)
            return None
        self.entries.move_to_end(token)
        return p

    def put(self, token: str, p: Principal) -> None:
        if p.cache_until <= time.time():
            return
        self.entries[token] = p
        self.entries.move_to_end(token)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)

    def drop(self, token: str) -> None:
        self.entries.pop(token, None)

    def __len__(self) -> int:
        return len(self.entries)


class Revocations:
    """Revocation events of the embedded identity, in memory.

    An event revokes: one token and the tokens rescoped from it (audit id);
    a user's tokens issued up to a time (password change, user disabled or
    deleted); a user's tokens on one project (role unassigned); all tokens
    on a project (project disabled or deleted)."""

    def __init__(self, store: IdentityStore | None, interval: float, max_age_s: int):
        self.store = store
        self.interval = interval
        self.max_age_us = max_age_s * 1_000_000
        self.by_audit: dict[str, int] = {}                       # audit id -> when
        self.by_subject: dict[tuple[str | None, str | None], int] = {}  # -> issued_before
        self.last_id = 0
        self.next_check = 0.0
        self.lock = threading.RLock()  # refresh/prune vs revoke() in other threads

    def due(self) -> bool:
        return self.store is not None and time.monotonic() >= self.next_check

    def refresh(self, force: bool = False) -> None:
        if self.store is None:
            return
        with self.lock:
            if not force and time.monotonic() < self.next_check:
                return
            for row in self.store.revocations_since(self.last_id):
                self.apply(row["audit_id"], row["user_id"], row["project_id"],
                           row["issued_before_us"])
                self.last_id = max(self.last_id, row["id"])
            self._prune()
            self.next_check = time.monotonic() + self.interval

    def apply(self, audit_id, user_id, project_id, issued_before_us: int) -> None:
        with self.lock:
            if audit_id:
                self.by_audit[audit_id] = issued_before_us
            elif user_id or project_id:
                key = (user_id, project_id)
                self.by_subject[key] = max(self.by_subject.get(key, 0), issued_before_us)

    def _prune(self) -> None:
        cutoff = now_us() - self.max_age_us
        for table in (self.by_audit, self.by_subject):
            for key in [k for k, when in table.items() if when < cutoff]:
                del table[key]

    def revoked(self, user_id: str, project_id: str | None, audit_ids, issued_us: int) -> bool:
        for audit in audit_ids:
            if audit in self.by_audit:
                return True
        subj = self.by_subject
        if not subj:
            return False
        for key in ((user_id, None), (user_id, project_id), (None, project_id)):
            when = subj.get(key)
            if when is not None and issued_us <= when and (key[1] is None or project_id):
                return True
        return False

    def revoked_data(self, data: TokenData) -> bool:
        return self.revoked(data.user_id, data.project_id, data.audit_ids, data.issued_us)


class EmbeddedValidator:
    blocking = False  # pure CPU: run on the event loop

    def __init__(self, signer: TokenSigner, revocations: Revocations):
        self.signer = signer
        self.revocations = revocations

    def needs_refresh(self) -> bool:
        return self.revocations.due()

    def refresh(self) -> None:
        self.revocations.refresh()

    def validate(self, token: str) -> Principal:
        data = self.signer.verify(token)
        if self.revocations.revoked_data(data):
            raise InvalidToken("token revoked")
        expires = data.expires_us / 1e6
        roles = frozenset(r.lower() for r in data.roles)
        return Principal(data.user_id, data.project_id or "", roles, expires, expires,
                         tuple(data.audit_ids), data.issued_us, data.domain_id or "")

    def accepts(self, p: Principal) -> bool:
        return not self.revocations.revoked(p.user_id, p.project_id or None, p.audit_ids,
                                            p.issued_us)


class RemoteValidator:
    blocking = True  # HTTP: run in the thread pool

    def __init__(self, opts):
        url = opts.auth_url.rstrip("/")
        if not url:
            raise ValueError("[keystone_authtoken] auth_url is required to validate tokens "
                             "with Keystone (or set [identity] embedded = true)")
        self.base = url if url.endswith("/v3") else url + "/v3"
        self.opts = opts
        verify: bool | str = not opts.insecure
        if opts.cafile and not opts.insecure:
            verify = opts.cafile
        cert = (opts.certfile, opts.keyfile) if opts.certfile else None
        timeout = getattr(opts, "timeout", None) or opts.http_connect_timeout
        self.client = httpx.Client(timeout=timeout, verify=verify, cert=cert)
        self.cache_time = opts.token_cache_time
        self.retries = opts.http_request_max_retries
        self._service_token: str | None = None
        self._service_renew = 0.0
        self._lock = threading.Lock()

    def needs_refresh(self) -> bool:
        return False

    def accepts(self, p: Principal) -> bool:
        return True

    def _auth_body(self) -> dict:
        """POST /v3/auth/tokens body for [keystone_authtoken] auth_type, as
        keystoneauth's plugin of that name builds it."""
        o = self.opts
        default_domain = ({"id": o.default_domain_id} if o.default_domain_id
                          else {"name": o.default_domain_name} if o.default_domain_name
                          else None)

        def domain(by_id: str, by_name: str) -> dict:
            if by_id:
                return {"id": by_id}
            if default_domain and by_name in ("", "Default"):
                return default_domain
            return {"name": by_name or "Default"}

        def user() -> dict:
            if o.user_id:
                return {"id": o.user_id}
            return {"name": o.username,
                    "domain": domain(o.user_domain_id, o.user_domain_name)}
        if o.auth_type == "v3applicationcredential":
            cred: dict = {"secret": o.application_credential_secret}
            if o.application_credential_id:
                cred["id"] = o.application_credential_id
            else:
                cred.update(name=o.application_credential_name, user=user())
            # An application credential carries its own scope.
            return {"auth": {"identity": {"methods": ["application_credential"],
                                          "application_credential": cred}}}
        if o.auth_type in ("token", "v3token"):
            identity: dict = {"methods": ["token"], "token": {"id": o.token}}
        else:
            identity = {"methods": ["password"],
                        "password": {"user": dict(user(), password=o.password)}}
        body: dict = {"auth": {"identity": identity}}
        if o.project_id:
            body["auth"]["scope"] = {"project": {"id": o.project_id}}
        elif o.project_name:
            body["auth"]["scope"] = {"project": {
                "name": o.project_name,
                "domain": domain(o.project_domain_id, o.project_domain_name)}}
        elif o.domain_id or o.domain_name:
            body["auth"]["scope"] = {"domain": ({"id": o.domain_id} if o.domain_id
                                               else {"name": o.domain_name})}
        elif o.trust_id:
            body["auth"]["scope"] = {"OS-TRUST:trust": {"id": o.trust_id}}
        elif o.system_scope:
            body["auth"]["scope"] = {"system": {o.system_scope: True}}
        return body

    def check_credentials(self) -> None:
        """ValueError when auth_type lacks what it needs (at start-up)."""
        o = self.opts
        if o.auth_type == "v3applicationcredential":
            if not o.application_credential_secret or not (
                    o.application_credential_id or (o.application_credential_name
                                                    and (o.username or o.user_id))):
                raise ValueError(
                    "[keystone_authtoken] auth_type = v3applicationcredential needs "
                    "application_credential_secret and application_credential_id (or "
                    "application_credential_name with username or user_id)")
        elif o.auth_type in ("token", "v3token"):
            if not o.token:
                raise ValueError(f"[keystone_authtoken] auth_type = {o.auth_type} needs token")
        elif not (o.username or o.user_id) or not o.password:
            raise ValueError("[keystone_authtoken] needs the service user's username (or "
                             "user_id) and password (auth_type = password)")

    def _request(self, method: str, url: str, **kw) -> httpx.Response:
        for attempt in range(self.retries + 1):
            try:
                return self.client.request(method, url, **kw)
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    LOG.error("keystone at %s unreachable: %s", self.base, type(exc).__name__)
                    raise IdentityUnavailable("identity service unreachable") from None
                time.sleep(min(0.2 * (attempt + 1), 1.0))
        raise AssertionError("unreachable")

    def service_token(self) -> str:
        with self._lock:
            if self._service_token and self._service_renew > time.time():
                return self._service_token
            resp = self._request("POST", self.base + "/auth/tokens", json=self._auth_body())
            if resp.status_code != 201:
                LOG.error("keystone refused the service credentials of [keystone_authtoken] "
                          "(user %r): HTTP %d", self.opts.username or self.opts.user_id,
                          resp.status_code)
                raise IdentityUnavailable("service credentials refused")
            self._service_token = resp.headers["X-Subject-Token"]
            expires = parse_time(resp.json()["token"]["expires_at"])
            # Renew before it expires: 30 s early, or a quarter early if shorter.
            self._service_renew = expires - min(30.0, (expires - time.time()) / 4)
            return self._service_token

    def forget_service_token(self) -> None:
        with self._lock:
            self._service_token = None

    def validate(self, token: str) -> Principal:
        if not token or len(token) > 8192:
            raise InvalidToken("malformed token")
        for attempt in range(2):
            resp = self._request("GET", self.base + "/auth/tokens?nocatalog", headers={
                "X-Auth-Token": self.service_token(), "X-Subject-Token": token})
            if resp.status_code == 200:
                return self._principal(resp.json()["token"])
            if resp.status_code == 401 and attempt == 0:
                self.forget_service_token()  # ours expired or was revoked: once more
                continue
            if resp.status_code in (401, 404):
                raise InvalidToken("token not valid")
            LOG.error("keystone answered token validation with HTTP %d", resp.status_code)
            raise IdentityUnavailable(f"identity service answered {resp.status_code}")
        raise InvalidToken("token not valid")

    def _principal(self, tok: dict) -> Principal:
        expires = parse_time(tok["expires_at"])
        if expires <= time.time():
            raise InvalidToken("token expired")
        project = tok.get("project") or {}
        domain = tok.get("domain") or {}
        roles = frozenset(r["name"].lower() for r in tok.get("roles", ()))
        issued = parse_time(tok["issued_at"]) if tok.get("issued_at") else 0.0
        if self.cache_time > 0:
            cache_until = min(expires, time.time() + self.cache_time)
        elif self.cache_time < 0:
            cache_until = expires      # -1: trusted until it expires
        else:
            cache_until = 0.0          # 0: not cached
        return Principal(tok["user"]["id"], project.get("id", ""), roles, expires, cache_until,
                         tuple(tok.get("audit_ids", ())), int(issued * 1e6),
                         domain.get("id", ""))
