"""A request id for every HTTP request and websocket: carried into each log line written
while serving it (a contextvar), into the GraphQL errors it returns, and back to the client
as `X-Request-ID`.

An incoming `X-Request-ID` (set by a reverse proxy, or a client tracing its own calls) is
kept only when it is short and made of safe characters: it is written into our logs and
echoed in a header, so newlines, quotes or kilobytes of text from outside are replaced by
a fresh id.
"""

import logging
import re
import secrets
import time
from contextvars import ContextVar

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
current: ContextVar[str | None] = ContextVar("request_id", default=None)
access_log = logging.getLogger("powerpermit.access")
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})


def request_id() -> str | None:
    """The id of the request being served, or None outside any request."""
    return current.get()


def new_id() -> str:
    return secrets.token_hex(8)


def accepted(incoming: str | None) -> str:
    """The caller's id when it is safe to log and echo; a fresh one otherwise."""
    if incoming is not None and SAFE_ID.fullmatch(incoming):
        return incoming
    return new_id()


class RequestIdMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware), so websockets and streamed bodies pass as they
    are. Writes one access line per HTTP request and per websocket, with status and time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = accepted(Headers(scope=scope).get(HEADER))
        token = current.set(rid)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[HEADER] = rid
            elif message["type"] == "websocket.accept":
                status = 101
                headers = list(message.get("headers") or [])
                message = {**message, "headers": [*headers, (HEADER.encode(), rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            path = scope.get("path", "")
            # Probes and scrapes arrive every few seconds: only their failures are news.
            quiet = path in PROBES and 200 <= status < 300
            access_log.log(
                logging.DEBUG if quiet else logging.INFO,
                "%s %s %s",
                scope.get("method", "WS"),
                path,
                status,
                extra={
                    "method": scope.get("method", "WEBSOCKET"),
                    "path": path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            current.reset(token)
