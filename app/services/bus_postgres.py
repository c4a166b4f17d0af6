"""PostgreSQL LISTEN/NOTIFY as the cross-process transport (chosen when DATABASE_URL is
PostgreSQL): no other service to run. NOTIFY channels are per database, so servers on one
database hear each other and nobody else.

One connection listens; another sends (asyncpg runs one statement at a time per
connection, and a send must not wait behind the listener's pings).
"""

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy.engine import URL

CHANNEL = "powerpermit_events"
PING_EVERY_S = 5.0  # a half-open connection (no reset seen) is found within this
CONNECT_TIMEOUT_S = 5.0
# How the listening connection shows in pg_stat_activity: which server process it serves.
LISTENER = f"powerpermit-listener-{os.getpid()}"


def asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresTransport:
    def __init__(self, url: URL, channel: str = CHANNEL) -> None:
        self.dsn = asyncpg_dsn(url)
        self.channel = channel
        self._sender: asyncpg.Connection | None = None
        self._listener: asyncpg.Connection | None = None
        self._lost = asyncio.Event()

    async def send_many(self, payloads: list[str]) -> None:
        """One statement for the lot (bus_cross_process.GroupSender gathers them)."""
        try:
            if self._sender is None or self._sender.is_closed():
                self._sender = await asyncpg.connect(self.dsn, timeout=CONNECT_TIMEOUT_S)
            await self._sender.execute(
                "SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload",
                self.channel,
                payloads,
            )
        except BaseException:
            if self._sender is not None:
                await _close(self._sender)
            self._sender = None  # reconnect on the next send
            raise

    @asynccontextmanager
    async def listening(self, received: Callable[[str], None]) -> AsyncIterator[None]:
        self._lost = asyncio.Event()
        connection = await asyncpg.connect(
            self.dsn, timeout=CONNECT_TIMEOUT_S, server_settings={"application_name": LISTENER}
        )
        self._listener = connection
        connection.add_termination_listener(lambda _: self._lost.set())

        def notified(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            received(payload)

        try:
            await connection.add_listener(self.channel, notified)
            yield
        finally:
            self._listener = None
            await _close(connection)

    async def wait_closed(self) -> None:
        connection = self._listener
        while connection is not None and not connection.is_closed():
            try:
                await asyncio.wait_for(self._lost.wait(), PING_EVERY_S)
                return
            except TimeoutError:
                pass
            await connection.fetchval("SELECT 1", timeout=PING_EVERY_S)  # raises when gone

    async def listener_pid(self) -> int | None:
        """The listening backend's pid (tests end it with pg_terminate_backend)."""
        return None if self._listener is None else self._listener.get_server_pid()

    async def close(self) -> None:
        if self._sender is not None:
            await _close(self._sender)
            self._sender = None


async def _close(connection: asyncpg.Connection) -> None:
    if connection.is_closed():
        return
    try:
        await asyncio.wait_for(connection.close(), 2.0)
    except (OSError, TimeoutError, asyncpg.PostgresError):
        connection.terminate()
