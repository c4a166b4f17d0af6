"""What the transactional outbox costs a use case: `request_usage` in-process, with its
event row written in the transaction (as shipped) and without it (the event published
directly, as before the outbox), alternating in rounds in one run, on SQLite and PostgreSQL.

Run: `.venv/bin/python bench/outbox_cost.py [--asks 300] [--rounds 4]`.

Each ask books its own slot on a bench site (no open-request limit, only the overlap rule
can refuse), one at a time: the figure is per-call latency, p50 and p99 in ms, and the
with/without ratio of the medians. The "without" runs replace the outbox insert with a
no-op here, in this script only. The process's CPU time per ask is printed too.
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.cli import migrate  # noqa: E402
from app.domain.events import UsageRequestChanged  # noqa: E402
from app.services import usage  # noqa: E402
from app.services.container import Services, build_services  # noqa: E402
from app.services.demo import add_busy_site  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.store import outbox  # noqa: E402
from app.store.repositories import Users  # noqa: E402
from tests import postgres  # noqa: E402

DEVICES = 50
INSERT = outbox.insert  # what publishing.write_then_publish calls (looked up per call)


def no_row(_conn: object, event: UsageRequestChanged) -> UsageRequestChanged:
    return event


async def round_of(
    services: Services, asks: int, first_slot: int, devices: list[str]
) -> tuple[list[float], float]:
    driver = await services.db.read(lambda conn: Users(conn).get("bench-u0"))
    assert driver is not None
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    timings = []
    cpu = time.process_time()
    for i in range(asks):
        slot = first_slot + i
        starts = base + timedelta(hours=slot // len(devices))
        began = time.perf_counter()
        asked = await usage.request_usage(
            services, driver, devices[slot % len(devices)], starts, timedelta(minutes=30)
        )
        timings.append((time.perf_counter() - began) * 1000)
        assert asked.request is not None, asked.decision
    return timings, time.process_time() - cpu


async def bench(settings: Settings, asks: int, rounds: int) -> None:
    services = build_services(settings)
    now = datetime.now(UTC)
    devices, _ = await services.db.write(
        lambda conn: add_busy_site(conn, "bench", devices=DEVICES, drivers=1, now=now)
    )
    results: dict[str, list[float]] = {"with outbox": [], "without": []}
    cpu_s = dict.fromkeys(results, 0.0)
    slot = 0
    try:
        for _ in range(rounds):
            for label in results:
                outbox.insert = INSERT if label == "with outbox" else no_row  # type: ignore[assignment]
                timings, cpu = await round_of(services, asks, slot, devices)
                results[label] += timings
                cpu_s[label] += cpu
                slot += asks
    finally:
        outbox.insert = INSERT  # type: ignore[assignment]
        await services.db.dispose()
    medians, cpu_per_ask = {}, {}
    for label, timings in results.items():
        ordered = sorted(timings)
        medians[label] = statistics.median(ordered)
        p99 = ordered[int(0.99 * (len(ordered) - 1))]
        cpu_per_ask[label] = cpu_s[label] / len(timings) * 1000
        print(
            f"  {label:<12} p50 {medians[label]:6.2f} ms  p99 {p99:6.2f} ms  "
            f"CPU {cpu_per_ask[label]:5.2f} ms per ask",
            flush=True,
        )
    print(
        f"  with / without: p50 {medians['with outbox'] / medians['without']:.2f}, "
        f"CPU {cpu_per_ask['with outbox'] / cpu_per_ask['without']:.2f}"
        " (wall times on a shared machine mostly measure the neighbours; CPU less so)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asks", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pp-bench-outbox-") as tmp:
        sqlite = Settings(Path(tmp), f"sqlite:///{tmp}/pp.db")
        migrate(sqlite)
        print(f"SQLite: {args.rounds} rounds x {args.asks} asks per variant", flush=True)
        asyncio.run(bench(sqlite, args.asks, args.rounds))
        if reason := postgres.unavailable():
            print(f"PostgreSQL skipped: {reason}")
            return
        database = postgres.create_database()
        try:
            pg = Settings(Path(tmp), postgres.url(database))
            migrate(pg)
            print(f"PostgreSQL: {args.rounds} rounds x {args.asks} asks per variant", flush=True)
            asyncio.run(bench(pg, args.asks, args.rounds))
        finally:
            postgres.drop_database(database)


if __name__ == "__main__":
    main()
