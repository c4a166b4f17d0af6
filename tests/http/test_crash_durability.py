"""Nothing approved is ever lost: kill the server in the middle of a burst of approvals.

Every answer that reached a driver as APPROVED, with its permit, must still be in the
store after a SIGKILL: the phone may already hold that permit. Concurrent approvals
share commits on SQLite (group commit), so this checks that no answer leaves before
its commit is durable. The kill lands at a known point: the server kills itself right
after its 150th answer has been sent (tests/http/sigkill_server.py), with other requests
still inside it. (A power cut is stronger than SIGKILL; synchronous=FULL is what covers
it, and that cannot be tested from here.)
"""

import asyncio
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from app.services.demo import add_busy_site
from app.store import tables as t
from app.store.database import create_sync_engine
from tests.http.live import (
    REQUEST_USAGE,
    ROOT,
    ServerProcess,
    free_port,
    prepare,
    server_env,
)

WORKERS = 12
DEVICES = 24
ANSWERS = 150  # the server dies right after sending this many


class SigkilledServer(ServerProcess):
    """The server, set to SIGKILL itself right after its ANSWERS-th GraphQL answer."""

    def start(self) -> None:
        command = [sys.executable, "-m", "tests.http.sigkill_server", str(self.port)]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [*command, str(ANSWERS)],
                cwd=ROOT,
                env=server_env(self.data_dir),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_healthy()


def busy_site(data_dir: Path) -> tuple[list[str], list[str]]:
    engine = create_sync_engine(server_env(data_dir)["DATABASE_URL"])
    with engine.begin() as conn:
        found = add_busy_site(conn, "busy", devices=DEVICES, drivers=WORKERS, now=datetime.now(UTC))
    engine.dispose()
    return found


def stored_approvals(data_dir: Path) -> dict[str, str | None]:
    engine = create_sync_engine(server_env(data_dir)["DATABASE_URL"])
    r, p = t.usage_requests, t.permits
    query = (
        sa.select(r.c.id, r.c.status, p.c.id.label("permit_id"))
        .outerjoin(p, p.c.request_id == r.c.id)
        .where(r.c.site_id == "busy")
    )
    with engine.connect() as conn:
        rows = {
            str(row.id): row.permit_id for row in conn.execute(query) if row.status == "APPROVED"
        }
    engine.dispose()
    return rows


async def test_every_approval_a_driver_received_survives_a_sigkill(tmp_path: Path) -> None:
    prepare(tmp_path)
    devices, tokens = busy_site(tmp_path)
    server = SigkilledServer(tmp_path, free_port(), tmp_path / "server.log")
    server.start()
    base = (datetime.now(UTC) + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    received: dict[str, str] = {}  # request id -> permit id, as the drivers saw them

    async def driver(n: int, client: httpx.AsyncClient) -> None:
        headers = {"Authorization": f"Bearer {tokens[n]}"}
        for k in range(10_000):
            slot = n * 10_000 + k  # each ask its own slot: every one is approved
            variables = {
                "input": {
                    "deviceId": devices[slot % DEVICES],
                    "startsAt": (base + timedelta(minutes=30) * (slot // DEVICES)).isoformat(),
                    "durationMinutes": 30,
                }
            }
            try:
                response = await client.post(
                    server.url("/graphql"),
                    json={"query": REQUEST_USAGE, "variables": variables},
                    headers=headers,
                )
            except httpx.TransportError:
                return  # the server is gone; whatever it did not answer is not ours
            answer: Any = response.json()["data"]["requestUsage"]
            assert answer["status"] == "APPROVED", answer
            # Slots past the permit lead (24 h) are approved without a permit yet.
            received[answer["id"]] = answer["permit"] and answer["permit"]["id"]

    try:
        limits = httpx.Limits(max_connections=WORKERS)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            await asyncio.wait_for(
                asyncio.gather(*(driver(n, client) for n in range(WORKERS))), timeout=120
            )
        assert server.proc is not None
        assert server.proc.wait(timeout=10) == -signal.SIGKILL, server.log()
    finally:
        server.stop()

    stored = stored_approvals(tmp_path)
    lost = {rid: pid for rid, pid in received.items() if rid not in stored or stored[rid] != pid}
    assert len(received) == ANSWERS  # every answer sent before the kill arrived
    assert not lost, f"{len(lost)} of {len(received)} approvals the drivers hold are gone"
