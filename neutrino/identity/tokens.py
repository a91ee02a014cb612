"""Signed, expiring tokens of the embedded identity.

A token is `n1.<payload>.<mac>`: the payload is compact JSON in base64url
(user, scope, role names, issue and expiry times, audit id), the MAC is
HMAC-SHA256 over `n1.<payload>` with the primary key. Validating one is a
MAC check, an expiry check and a revocation check: no database read.

Keys live in a file (default <state_path>/identity/token_keys, mode 0600),
one base64 key a line; the first signs, all verify, so a key can be rotated
by putting a new one first and dropping the old one after the longest token
lifetime. Servers that share a database and an embedded identity must share
this file.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass

import orjson

VERSION = "n1"


class InvalidToken(Exception):
    """Not a token of ours, tampered with, or expired (the message says which;
    it never contains the token)."""


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True)
class TokenData:
    user_id: str
    project_id: str | None
    domain_id: str | None          # domain scope (None for project-scoped/unscoped)
    roles: tuple[str, ...]         # role names, implied roles included
    issued_us: int
    expires_us: int
    audit_id: str
    methods: tuple[str, ...] = ("password",)
    parent_audit_id: str | None = None

    @property
    def audit_ids(self) -> list[str]:
        return [self.audit_id] + ([self.parent_audit_id] if self.parent_audit_id else [])

    def payload(self) -> dict:
        body = {"u": self.user_id, "r": list(self.roles), "i": self.issued_us,
                "e": self.expires_us, "a": self.audit_id, "m": list(self.methods)}
        if self.project_id:
            body["p"] = self.project_id
        if self.domain_id:
            body["d"] = self.domain_id
        if self.parent_audit_id:
            body["pa"] = self.parent_audit_id
        return body

    @classmethod
    def from_payload(cls, body: dict) -> "TokenData":
        return cls(user_id=body["u"], project_id=body.get("p"), domain_id=body.get("d"),
                   roles=tuple(body.get("r", ())), issued_us=int(body["i"]),
                   expires_us=int(body["e"]), audit_id=body["a"],
                   methods=tuple(body.get("m", ("password",))),
                   parent_audit_id=body.get("pa"))


def new_audit_id() -> str:
    return _b64e(secrets.token_bytes(16))


def load_keys(path: str, create: bool = True) -> list[bytes]:
    """The keys in `path`; a new file with one random key if it is missing."""
    if not os.path.exists(path):
        if not create:
            raise FileNotFoundError(path)
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first: read theirs
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(_b64e(secrets.token_bytes(32)) + "\n")
    with open(path, encoding="ascii") as handle:
        keys = [_b64d(line.strip()) for line in handle
                if line.strip() and not line.startswith("#")]
    if not keys or any(len(k) < 16 for k in keys):
        raise ValueError(f"token key file {path} holds no usable key (32 random bytes, base64)")
    return keys


class TokenSigner:
    def __init__(self, keys: list[bytes]):
        if not keys:
            raise ValueError("no token keys")
        self.keys = keys

    def _mac(self, key: bytes, signed: bytes) -> bytes:
        return hmac.new(key, signed, hashlib.sha256).digest()

    def issue(self, data: TokenData) -> str:
        body = _b64e(orjson.dumps(data.payload()))
        signed = f"{VERSION}.{body}"
        return f"{signed}.{_b64e(self._mac(self.keys[0], signed.encode('ascii')))}"

    def verify(self, token: str, now: int | None = None) -> TokenData:
        """The token's data if the MAC is good and it has not expired."""
        if not token or len(token) > 8192:
            raise InvalidToken("malformed token")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != VERSION:
            raise InvalidToken("malformed token")
        signed = f"{parts[0]}.{parts[1]}".encode("ascii", "replace")
        try:
            mac = _b64d(parts[2])
        except ValueError:
            raise InvalidToken("malformed token") from None
        if not any(hmac.compare_digest(mac, self._mac(key, signed)) for key in self.keys):
            raise InvalidToken("bad signature")
        try:
            data = TokenData.from_payload(orjson.loads(_b64d(parts[1])))
        except (ValueError, KeyError, TypeError):
            raise InvalidToken("malformed token") from None
        if (now if now is not None else now_us()) >= data.expires_us:
            raise InvalidToken("token expired")
        return data
