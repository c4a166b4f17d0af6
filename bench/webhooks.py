"""What webhooks cost: deliveries per second to a local receiver, and what a running webhook
worker with a subscription adds to `request_usage` calls (each of which makes a delivery),
against no worker, alternating in rounds in one run, on SQLite and PostgreSQL.

Run: `.venv/bin/python bench/webhooks.py [--events 1000] [--asks 300] [--rounds 3]`.

The receiver is a separate process (uvicorn, a starlette app answering 200 to every
POST), so its own work is not counted in this process's CPU. Deliveries/s: `--events`
requests are made first, then the worker's ticks are timed until every delivery is
posted (dispatch, signing, POST, recording the outcome). The ask figures are per-call
latency, p50 and p99 in ms, with the process's CPU time per ask.
"""

import argparse
import asyncio
import contextlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.cli import migrate  # noqa: E402
from app.domain.model import Role, User  # noqa: E402
from app.services import usage, webhooks  # noqa: E402
from app.services.container import Services, build_services  # noqa: E402
from app.services.demo import add_busy_site  # noqa: E402
from app.services.webhook_delivery import WebhookWorker  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.store import tables as t  # noqa: E402
from app.store.repositories import Sites, Users  # noqa: E402
from tests import postgres  # noqa: E402

DEVICES = 50
RECEIVER = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

async def hook(request):
    await request.body()
    return Response(b"ok")

app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="critical")
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def receiver() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    url = f"http://127.0.0.1:{port}/hook"
    try:
        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(url, content=b"{}")
                break
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


class Asker:
    def __init__(self, services: Services, devices: list[str], driver: User) -> None:
        self.services, self.devices, self.driver = services, devices, driver
        self.slot = 0
        self.base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        self.base += timedelta(days=2)

    async def ask(self) -> float:
        """One auto-approved ask on its own slot; returns its latency in ms."""
        starts = self.base + timedelta(hours=self.slot // len(self.devices))
        device = self.devices[self.slot % len(self.devices)]
        self.slot += 1
        began = time.perf_counter()
        asked = await usage.request_usage(
            self.services, self.driver, device, starts, timedelta(minutes=30)
        )
        assert asked.request is not None, asked.decision
        return (time.perf_counter() - began) * 1000


async def delivered(services: Services) -> int:
    table = t.webhook_deliveries
    query = sa.select(sa.func.count()).where(table.c.status == "delivered")
    return int(await services.db.read(lambda conn: conn.execute(query).scalar_one()))


async def bench(settings: Settings, url: str, events: int, asks: int, rounds: int) -> None:
    services = build_services(settings)
    services.webhook_allow_private = True
    manager = User("bench-m", "bench-m", "Bench manager", Role.MANAGER)

    def setup(conn: sa.Connection) -> tuple[list[str], list[str]]:
        made = add_busy_site(conn, "bench", devices=DEVICES, drivers=1, now=services.clock())
        Users(conn).add(manager)
        Sites(conn).add_person("bench", manager.id, t.site_managers)
        return made

    devices, _ = await services.db.write(setup)
    driver = await services.db.read(lambda conn: Users(conn).get("bench-u0"))
    assert driver is not None
    await webhooks.create_webhook(services, manager, "bench", url, ["request.decided"])
    asker = Asker(services, devices, driver)
    worker = WebhookWorker(allow_private=True)
    try:
        for n in range(events):
            await asker.ask()
            if n % 250 == 249:
                print(f"  {n + 1}/{events} events made", flush=True)
        began, cpu = time.perf_counter(), time.process_time()
        while await delivered(services) < events:
            await worker.tick(services)
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu
        print(
            f"  deliveries: {events} in {wall:.2f} s = {events / wall:,.0f}/s "
            f"(CPU {cpu / events * 1000:.2f} ms per delivery)",
            flush=True,
        )

        results: dict[str, list[float]] = {"worker on": [], "worker off": []}
        cpu_s = dict.fromkeys(results, 0.0)
        for r in range(rounds):
            for label in results:
                # What an "off" round left undelivered is posted here, untimed: each "on"
                # round carries the deliveries of its own asks only.
                while await delivered(services) < asker.slot:
                    await worker.tick(services)
                task = asyncio.create_task(worker.run(services)) if label == "worker on" else None
                cpu = time.process_time()
                for _ in range(asks):
                    results[label].append(await asker.ask())
                cpu_s[label] += time.process_time() - cpu
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    worker = WebhookWorker(allow_private=True)  # run() closed its client
            print(f"  round {r + 1}/{rounds} done", flush=True)
    finally:
        await worker.aclose()
        await services.db.dispose()
    medians, cpu_per_ask = {}, {}
    for label, timings in results.items():
        ordered = sorted(timings)
        medians[label] = statistics.median(ordered)
        p99 = ordered[int(0.99 * (len(ordered) - 1))]
        cpu_per_ask[label] = cpu_s[label] / len(timings) * 1000
        print(
            f"  requestUsage, {label:<10} p50 {medians[label]:6.2f} ms  p99 {p99:6.2f} ms  "
            f"CPU {cpu_per_ask[label]:5.2f} ms per ask (delivery included when on)",
            flush=True,
        )
    print(
        f"  on / off: p50 {medians['worker on'] / medians['worker off']:.2f}, "
        f"CPU {cpu_per_ask['worker on'] / cpu_per_ask['worker off']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--asks", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pp-bench-webhooks-") as tmp, receiver() as url:
        sqlite = Settings(Path(tmp), f"sqlite:///{tmp}/pp.db")
        migrate(sqlite)
        print(f"SQLite: {args.events} deliveries, {args.rounds} x {args.asks} asks", flush=True)
        asyncio.run(bench(sqlite, url, args.events, args.asks, args.rounds))
        if reason := postgres.unavailable():
            print(f"PostgreSQL skipped: {reason}")
            return
        database = postgres.create_database()
        try:
            pg = Settings(Path(tmp), postgres.url(database))
            migrate(pg)
            print(f"PostgreSQL: {args.events} deliveries, {args.rounds} x {args.asks} asks")
            asyncio.run(bench(pg, url, args.events, args.asks, args.rounds))
        finally:
            postgres.drop_database(database)


if __name__ == "__main__":
    main()
