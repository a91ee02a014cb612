"""Request authentication: turns a request into a policy Context.

noauth trusts Neutron's headers (X-Project-Id or X-Tenant-Id, X-Roles,
X-User-Id); a request without them is the admin of a default project, as
upstream's noauth pipeline.

keystone validates X-Auth-Token, with the embedded identity (in-process) or
a real Keystone ([keystone_authtoken]); see neutrino/identity/validation.py.
A validated token is cached per worker until it expires, so the hot path is
one dict lookup (and, for embedded tokens, a revocation check in memory).
Missing or bad token: 401 with `WWW-Authenticate: Keystone uri="..."` and a
NeutronError body; Keystone unreachable: 503.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Mapping

from starlette.concurrency import run_in_threadpool

from neutrino.api import faults
from neutrino.api.policy import Context
from neutrino.identity.validation import (IdentityUnavailable, InvalidToken, Principal,
                                          TokenCache)

LOG = logging.getLogger(__name__)


class HTTPUnauthorized(faults.NeutronError):
    status = 401
    message = "The request you have made requires authentication."

    def __init__(self, www_authenticate_uri: str, message: str | None = None):
        super().__init__(message)
        self.headers = {"WWW-Authenticate": f'Keystone uri="{www_authenticate_uri}"'}


class ServiceUnavailable(faults.NeutronError):
    status = 503
    message = "The server is currently unavailable. Please try again at a later time."


class Authenticator:
    routes: list = []  # extra routes this authenticator serves (the embedded identity)

    def context(self, headers: Mapping[str, str]) -> Context:
        raise NotImplementedError

    async def authenticate(self, request: Any) -> Context:
        return self.context(request.headers)


class NoAuth(Authenticator):
    def __init__(self, default_project_id: str):
        self.default_project_id = default_project_id

    def context(self, headers: Mapping[str, str]) -> Context:
        project = headers.get("x-project-id") or headers.get("x-tenant-id")
        roles = headers.get("x-roles")
        user = headers.get("x-user-id") or ""
        if project is None and roles is None:
            return Context.make(self.default_project_id, user or "admin", ("admin",))
        return Context.make(project or "", user, (roles or "").split(","),
                            request_id=headers.get("x-openstack-request-id", ""))


class TokenAuth(Authenticator):
    """X-Auth-Token → Context through a validator (embedded or remote) and a
    bounded per-worker cache. Concurrent requests with the same new token
    share one validation."""

    def __init__(self, validator, www_authenticate_uri: str = "", cache_size: int = 10000,
                 routes: list | None = None, identity_url=None):
        self.validator = validator
        self.cache = TokenCache(cache_size)
        self.www_authenticate_uri = www_authenticate_uri
        # For the embedded identity without a configured URI: from the request.
        self.identity_url = identity_url
        self.routes = list(routes or [])
        self._inflight: dict[str, asyncio.Future] = {}

    def _unauthorized(self, request: Any) -> HTTPUnauthorized:
        uri = self.www_authenticate_uri
        if not uri and self.identity_url is not None:
            uri = self.identity_url(str(request.base_url))
        return HTTPUnauthorized(uri)

    def _context(self, p: Principal, token: str, headers: Mapping[str, str]) -> Context:
        return Context(p.project_id, p.user_id, p.roles,
                       request_id=headers.get("x-openstack-request-id", ""), auth_token=token)

    async def authenticate(self, request: Any) -> Context:
        headers = request.headers
        token = headers.get("x-auth-token")
        if not token:
            raise self._unauthorized(request)
        validator = self.validator
        if validator.needs_refresh():
            await run_in_threadpool(validator.refresh)
        p = self.cache.get(token)
        if p is None:
            p = await self._validate(request, token)
        if not validator.accepts(p):
            self.cache.drop(token)
            raise self._unauthorized(request)
        return self._context(p, token, headers)

    async def _validate(self, request: Any, token: str) -> Principal:
        if not self.validator.blocking:
            try:
                p = self.validator.validate(token)
            except InvalidToken:
                raise self._unauthorized(request) from None
            self.cache.put(token, p)
            return p
        pending = self._inflight.get(token)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._inflight[token] = pending
            try:
                p = await run_in_threadpool(self.validator.validate, token)
            except BaseException as exc:
                pending.set_exception(exc)
                pending.exception()  # retrieved: no "never retrieved" warning
            else:
                self.cache.put(token, p)
                pending.set_result(p)
            finally:
                self._inflight.pop(token, None)
        try:
            return await asyncio.shield(pending)
        except InvalidToken:
            raise self._unauthorized(request) from None
        except IdentityUnavailable:
            raise ServiceUnavailable() from None

    def context(self, headers: Mapping[str, str]) -> Context:
        raise TypeError("TokenAuth needs the request: use `await authenticate(request)`")
