"""Open subscriptions end when their access does.

A websocket's bearer token is checked once, at `connection_init`. Without more, a
subscription opened before its token was revoked, its client revoked or its user disabled
would go on receiving events for as long as the socket stayed open, and one opened with an
access token would outlive the token's expiry. Every open socket is remembered with what
its access hangs on, and once a second each is checked again against the process's
withdrawals (app/services/withdrawals.py, which hear of other processes' within a second)
and its token's expiry; one that fails is closed with 4403, graphql-transport-ws's
Forbidden, as a refused connection is.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime

from starlette.websockets import WebSocket, WebSocketState

from app.services.container import Services

log = logging.getLogger("powerpermit.subscriptions")

CHECK_EVERY_S = 1.0
FORBIDDEN = 4403


@dataclass(frozen=True)
class Access:
    """What one socket's access hangs on: its user, the client and jti of an access token
    (None for a login token), when it was granted, and when it expires (a login token's
    session has no expiry of its own: disabling the user ends it)."""

    user_id: str
    client_id: str | None
    jti: str | None
    granted_at: datetime
    expires_at: datetime | None


class OpenSockets:
    def __init__(self, services: Services) -> None:
        self.services = services
        # By id(): a starlette WebSocket is a Mapping, so it is not hashable.
        self._open: dict[int, tuple[WebSocket, Access]] = {}
        self.closed = 0  # sockets closed because their access ended (logs, tests)

    def add(self, websocket: WebSocket, access: Access) -> None:
        self._open[id(websocket)] = (websocket, access)

    def __len__(self) -> int:
        return len(self._open)

    async def check(self) -> None:
        """Forget the sockets that closed; close those whose access ended."""
        now = self.services.clock()
        refuses = self.services.withdrawals.refuses
        ended: list[WebSocket] = []
        for key, (websocket, access) in list(self._open.items()):
            if _gone(websocket):
                del self._open[key]
            elif (access.expires_at is not None and access.expires_at <= now) or refuses(
                access.user_id, access.client_id, access.jti, access.granted_at
            ):
                del self._open[key]
                ended.append(websocket)
        for websocket in ended:
            self.closed += 1
            with contextlib.suppress(Exception):  # it may be closing by itself meanwhile
                await websocket.close(FORBIDDEN, "access ended: token expired or revoked")

    async def run(self) -> None:
        """For as long as the app runs."""
        while True:
            await asyncio.sleep(CHECK_EVERY_S)
            try:
                await self.check()
            except Exception:  # noqa: BLE001 - the next round checks again
                log.exception("checking open subscriptions failed")


def _gone(websocket: WebSocket) -> bool:
    return (
        websocket.client_state is WebSocketState.DISCONNECTED
        or websocket.application_state is WebSocketState.DISCONNECTED
    )
