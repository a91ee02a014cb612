"""Request body size limit, as upstream's oslo.middleware sizelimit filter
([oslo_middleware] max_request_body_size): a body announced larger than the
limit is refused from its Content-Length before any of it is read; a body
without one (chunked) is counted while it streams in and refused the moment
it passes the limit. Either way 413, and the connection is closed so the
client stops sending."""
from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neutrino.api import faults

IDENTITY_PREFIX = "/identity"


class HTTPRequestEntityTooLarge(faults.NeutronError):
    status = 413
    message = "Request is too large: larger than max_request_body_size ({limit} bytes)."


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.max_bytes <= 0:
            await self.app(scope, receive, send)
            return
        announced = _content_length(scope)
        if announced is not None and announced > self.max_bytes:
            await self._refuse(scope, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPRequestEntityTooLarge(limit=self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except HTTPRequestEntityTooLarge:
            if started:
                raise
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        err = HTTPRequestEntityTooLarge(limit=self.max_bytes)
        if scope.get("path", "").startswith(IDENTITY_PREFIX):  # Keystone's error format
            body = {"error": {"code": 413, "title": "Request Entity Too Large",
                              "message": err.text}}
        else:
            body = err.body()
        payload = orjson.dumps(body)
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP server refuses it (400) before we run
    return None
