"""How fast a change made on one server process reaches a subscriber on another.

Run: `.venv/bin/python bench/events_cross_process.py [--asks 100]` (PostgreSQL at
POWERPERMIT_TEST_POSTGRES, Redis at POWERPERMIT_TEST_REDIS or 127.0.0.1:6379).

For each bus (PostgreSQL LISTEN/NOTIFY, Redis pub/sub) two `powerpermit serve` processes run
on a fresh database. A manager's `approvalQueue` subscription is open on A; a driver asks
(NEEDS_MANAGER) through A, then through B, one ask at a time, each withdrawn before the
next. Printed per route: the ask's response time and the time from sending the ask to the
subscriber's message (p50, p99), and the cross-process / same-process ratio of the latter.
"""

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.cluster.cluster import cluster  # noqa: E402
from tests.http.live import LiveServer, gql, request_usage, soon  # noqa: E402
from tests.http.test_subscriptions import (  # noqa: E402
    CANCEL,
    NEEDS_MANAGER_MINUTES,
    QUEUE,
    open_socket,
    signed_in,
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(subscriber: LiveServer, asker: LiveServer, asks: int) -> dict[str, list[float]]:
    arrived: dict[str, float] = {}
    got = asyncio.Event()
    async with httpx.AsyncClient(timeout=30) as client, open_socket(subscriber) as connection:
        socket = await signed_in(connection, subscriber, "manager")
        await socket.subscribe(QUEUE)

        async def read() -> None:
            while True:
                raw = await connection.recv()
                message = json.loads(raw)
                if message.get("type") == "next":
                    request_id = message["payload"]["data"]["approvalQueue"]["id"]
                    arrived.setdefault(request_id, time.perf_counter())
                    got.set()

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.5)  # the subscription registers on the bus
        timings: dict[str, list[float]] = {"response": [], "delivered": []}
        device = asker.devices[0]["id"]
        try:
            for i in range(asks + 5):  # the first 5 warm up
                sent = time.perf_counter()
                asked = await request_usage(
                    client, asker, "user", device, soon(hours=30), NEEDS_MANAGER_MINUTES
                )
                answered = time.perf_counter()
                assert asked["status"] == "NEEDS_MANAGER", asked
                deadline = answered + 10
                while asked["id"] not in arrived and time.perf_counter() < deadline:
                    got.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(got.wait(), 1.0)
                assert asked["id"] in arrived, f"ask {i}: no message within 10 s"
                if i >= 5:
                    timings["response"].append((answered - sent) * 1000)
                    timings["delivered"].append((arrived[asked["id"]] - sent) * 1000)
                await gql(client, asker, CANCEL, {"id": asked["id"]}, who="user")
        finally:
            reader.cancel()
    return timings


def show(label: str, timings: dict[str, list[float]]) -> float:
    response, delivered = timings["response"], timings["delivered"]
    print(
        f"  {label:<28} response p50 {statistics.median(response):6.1f} ms "
        f"p99 {percentile(response, 0.99):6.1f} ms | ask -> subscriber "
        f"p50 {statistics.median(delivered):6.1f} ms p99 {percentile(delivered, 0.99):6.1f} ms",
        flush=True,
    )
    return statistics.median(delivered)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asks", type=int, default=100)
    args = parser.parse_args()
    for bus in ("postgresql", "redis"):
        print(f"{bus}: 2 processes, {args.asks} asks per route", flush=True)
        with (
            tempfile.TemporaryDirectory(prefix="pp-bench-events-") as tmp,
            cluster(Path(tmp), bus) as running,
        ):
            a, b = running.live(0), running.live(1)
            same = show("ask on A, subscriber on A", asyncio.run(measure(a, a, args.asks)))
            cross = show("ask on B, subscriber on A", asyncio.run(measure(a, b, args.asks)))
            print(f"  cross / same process (p50 ask -> subscriber): {cross / same:.2f}")


if __name__ == "__main__":
    main()
