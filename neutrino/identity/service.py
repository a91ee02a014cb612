"""The embedded identity's logic: password (and token) authentication with
project or domain scope, token bodies in Keystone v3 format, the service
catalog, validation and revocation. The HTTP layer is identity/api.py."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from neutrino.identity import bootstrap as boot
from neutrino.identity.passwords import HashPool, HashPoolBusy
from neutrino.identity.store import IdentityError, IdentityStore, NotFound, Scope
from neutrino.identity.throttle import LockoutPolicy, LoginThrottle
from neutrino.identity.tokens import (InvalidToken, TokenData, TokenSigner, load_keys,
                                      new_audit_id, now_us)
from neutrino.identity.validation import EmbeddedValidator, Revocations

PREFIX = "/identity"


class AuthFailed(IdentityError):
    """401: Keystone's answer to bad credentials (deliberately unspecific)."""
    status = 401

    def __init__(self, message: str = "The request you have made requires authentication."):
        super().__init__(message)


class Forbidden(IdentityError):
    status = 403


class AccountLocked(AuthFailed):
    """401 with Keystone's message for a user past lockout_failure_attempts."""

    def __init__(self, user_id: str):
        super().__init__(f"The account is locked for user: {user_id}.")


class TooManyFailures(IdentityError):
    """429: this client address failed too often (neutrino's own throttle)."""
    status = 429

    def __init__(self, seconds: float):
        wait = max(1, int(seconds + 0.999))
        super().__init__("Too many failed authentication attempts from this address; "
                         f"retry in {wait} s.")
        self.headers = {"Retry-After": str(wait)}


class Busy(IdentityError):
    """503: every password-hashing slot of this worker is taken."""
    status = 503

    def __init__(self):
        super().__init__("The identity service is busy checking passwords; retry shortly.")
        self.headers = {"Retry-After": "1"}


def iso(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1e6, dt.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Issued:
    token: str
    data: TokenData


class IdentityService:
    def __init__(self, cfg, store: IdentityStore, signer: TokenSigner,
                 revocations: Revocations, throttle: LoginThrottle | None = None,
                 hashes: HashPool | None = None):
        self.cfg = cfg
        self.store = store
        self.throttle = throttle or LoginThrottle(store.db, LockoutPolicy.from_config(cfg))
        self.hashes = hashes or HashPool(cfg.identity.password_hash_workers,
                                         cfg.identity.password_hash_queue)
        self.signer = signer
        self.revocations = revocations
        self.expiration = cfg.identity.token_expiration
        self.region = cfg.identity.region_name
        self.public_endpoint = cfg.identity.public_endpoint.rstrip("/")

    @classmethod
    def build(cls, cfg, db) -> "IdentityService":
        store = IdentityStore(db)
        boot.bootstrap(cfg, store)
        signer = TokenSigner(load_keys(boot.token_key_file(cfg)))
        store.purge_revocations(2 * cfg.identity.token_expiration)
        revocations = Revocations(store, cfg.identity.revocation_check_interval,
                                  2 * cfg.identity.token_expiration)
        revocations.refresh()
        return cls(cfg, store, signer, revocations)

    def validator(self) -> EmbeddedValidator:
        return EmbeddedValidator(self.signer, self.revocations)

    # --- URLs ----------------------------------------------------------------------
    def base_url(self, request_base: str) -> str:
        return self.public_endpoint or request_base.rstrip("/")

    def identity_url(self, request_base: str) -> str:
        return self.base_url(request_base) + PREFIX

    def catalog(self, request_base: str) -> list[dict]:
        base = self.base_url(request_base)

        def service(stype: str, name: str, url: str) -> dict:
            sid = f"{name}-{stype}"
            return {"id": sid, "type": stype, "name": name, "endpoints": [
                {"id": f"{sid}-{iface}", "interface": iface, "region": self.region,
                 "region_id": self.region, "url": url}
                for iface in ("public", "internal", "admin")]}
        return [service("identity", "keystone", base + PREFIX),
                service("network", "neutron", base),
                # The Octavia v2 API (neutrino/octavia/routes.py): its root
                # answers Octavia's versions document.
                service("load-balancer", "octavia", base + "/load-balancer")]

    # --- authentication ---------------------------------------------------------------
    def authenticate(self, body: dict, source: str = "") -> Issued:
        """A token for the credentials in `body`; `source` is the client's
        address (failed-login throttling)."""
        auth = body.get("auth") if isinstance(body, dict) else None
        if not isinstance(auth, dict) or not isinstance(auth.get("identity"), dict):
            raise IdentityError("Expecting to find identity in auth.")
        ident = auth["identity"]
        methods = ident.get("methods")
        if not isinstance(methods, list) or not methods:
            raise IdentityError("Expecting to find methods in identity.")
        parent: TokenData | None = None
        if "password" in methods:
            locked_for = self.throttle.source_locked_for(source) if source else 0.0
            if locked_for > 0:
                raise TooManyFailures(locked_for)
            user = self._password_user(ident.get("password") or {}, source)
            expires_us = now_us() + self.expiration * 1_000_000
        elif "token" in methods:
            tok = (ident.get("token") or {}).get("id")
            try:
                parent = self.check(tok or "")
            except InvalidToken:
                raise AuthFailed() from None
            user = self.store.get("user", parent.user_id)
            if user is None or not user["enabled"]:
                raise AuthFailed()
            expires_us = parent.expires_us  # rescoping never extends a token
        else:
            raise AuthFailed("Attempted to authenticate with an unsupported method.")
        scope = self._scope(auth.get("scope"), user)
        roles: tuple[str, ...] = ()
        if scope is not None:
            roles = tuple(self.store.db.read(
                lambda conn: self.store.role_names(conn, user["id"], scope)))
            if not roles:
                raise AuthFailed(f"User {user['id']} has no access to {scope.kind} {scope.id}")
        data = TokenData(
            user_id=user["id"], roles=roles,
            project_id=scope.id if scope and scope.kind == "project" else None,
            domain_id=scope.id if scope and scope.kind == "domain" else None,
            issued_us=now_us(), expires_us=expires_us, audit_id=new_audit_id(),
            methods=tuple(methods) if parent is None else tuple(parent.methods),
            parent_audit_id=parent.audit_id if parent else None)
        return Issued(self.signer.issue(data), data)

    def _verify(self, password: str, stored: str | None) -> bool:
        try:
            return self.hashes.verify(password, stored)
        except HashPoolBusy:
            raise Busy() from None

    def _password_user(self, password: dict, source: str = "") -> dict:
        ref = password.get("user") if isinstance(password, dict) else None
        if not isinstance(ref, dict) or "password" not in ref:
            raise IdentityError("Expecting to find user and password in password.")
        if not ref.get("id") and not ref.get("name"):
            raise IdentityError("Expecting to find id or name in user.")
        if ref.get("name") and not ref.get("id") and not ref.get("domain"):
            raise IdentityError("Expecting to find domain in user.")
        try:
            user = self.store.find("user", {k: ref[k] for k in ("id", "name", "domain")
                                            if k in ref})
            domain = self.store.find("domain", user["domain_id"])
        except NotFound:
            self._verify(str(ref.get("password")), _DUMMY_HASH)  # same time as a miss
            self.throttle.failed(None, source)
            raise AuthFailed() from None
        # As Keystone: a locked user is refused before the password is
        # checked (the right one too), and that failure is not counted.
        locked, failures = self.throttle.user_state(user["id"])
        if locked:
            raise AccountLocked(user["id"])
        if not self._verify(str(ref.get("password")), user["password_hash"]):
            self.throttle.failed(user["id"], source)
            raise AuthFailed()
        if not user["enabled"] or not domain["enabled"]:
            raise AuthFailed()
        if failures:
            self.throttle.reset_user(user["id"])
        return user

    def _scope(self, scope, user: dict) -> Scope | None:
        if scope is None or scope == {}:
            # As Keystone: no scope given -> the user's default project, if usable.
            pid = user.get("default_project_id")
            if pid:
                scope_ = Scope("project", pid)
                project = self.store.get("project", pid)
                if project and project["enabled"] and self.store.db.read(
                        lambda conn: self.store.role_names(conn, user["id"], scope_)):
                    return scope_
            return None
        if not isinstance(scope, dict):
            raise IdentityError("Invalid scope.")
        if "system" in scope:
            raise AuthFailed("System scope is not supported by the embedded identity.")
        try:
            if "project" in scope:
                project = self.store.find("project", scope["project"])
                domain = self.store.find("domain", project["domain_id"])
                if not project["enabled"] or not domain["enabled"]:
                    raise AuthFailed()
                return Scope("project", project["id"])
            if "domain" in scope:
                domain = self.store.find("domain", scope["domain"])
                if not domain["enabled"]:
                    raise AuthFailed()
                return Scope("domain", domain["id"])
        except NotFound as exc:
            raise AuthFailed(str(exc)) from None
        raise IdentityError("Invalid scope.")

    # --- validation and revocation ---------------------------------------------------------
    def check(self, token: str) -> TokenData:
        """The token's data if it is good: MAC, expiry and revocation (events
        re-read from the database first: this is the identity API, not the
        hot path)."""
        data = self.signer.verify(token)
        self.revocations.refresh(force=True)
        if self.revocations.revoked_data(data):
            raise InvalidToken("token revoked")
        return data

    def revoke(self, data: TokenData) -> None:
        self.store.revoke(audit_id=data.audit_id)
        self.revocations.apply(data.audit_id, None, None, now_us())

    # --- token bodies ----------------------------------------------------------------
    def token_body(self, data: TokenData, request_base: str, catalog: bool = True) -> dict:
        user = self.store.get("user", data.user_id) or {"id": data.user_id, "name": "",
                                                        "domain_id": "default"}
        tok: dict = {
            "methods": list(data.methods),
            "user": {"id": user["id"], "name": user["name"], "password_expires_at": None,
                     "domain": self._domain_ref(user["domain_id"])},
            "audit_ids": data.audit_ids,
            "expires_at": iso(data.expires_us), "issued_at": iso(data.issued_us),
        }
        scope = None
        if data.project_id:
            project = self.store.get("project", data.project_id) or {
                "id": data.project_id, "name": "", "domain_id": "default"}
            tok["project"] = {"id": project["id"], "name": project["name"],
                              "domain": self._domain_ref(project["domain_id"])}
            tok["is_domain"] = False
            scope = Scope("project", data.project_id)
        elif data.domain_id:
            tok["domain"] = self._domain_ref(data.domain_id)
            scope = Scope("domain", data.domain_id)
        if scope is not None:
            # Names from the token, ids from the database.
            known = {r["name"]: r["id"] for r in self.store.list("role")}
            tok["roles"] = [{"id": known.get(n, n), "name": n} for n in data.roles]
            if catalog:
                tok["catalog"] = self.catalog(request_base)
        return {"token": tok}

    def _domain_ref(self, domain_id: str) -> dict:
        d = self.store.get("domain", domain_id)
        return {"id": domain_id, "name": d["name"] if d else domain_id}


_DUMMY_HASH = "scrypt$16384$8$1$" + "AAAAAAAAAAAAAAAAAAAAAA==" + "$" + "A" * 43 + "="
