"""The sweep after downtime: a store of 1,000,000 requests of which 150,000 are overdue
(still waiting or approved, their windows passed), served by a real `powerpermit serve`.

Run: `.venv/bin/python bench/sweep_backlog.py [--engine sqlite|postgresql|both]
[--overdue 150000] [--concurrency 4]`.

The store comes from bench/data_scale.py (`pp_bench_backlog`, generated once and kept);
each run works on a copy (a file copy on SQLite, CREATE DATABASE ... TEMPLATE on
PostgreSQL), since the sweep consumes the backlog. Prints, in one run:
- seconds from spawning the server to its first /healthz answer, with the backlog and
  again on the drained copy (target: under 1 s of the quiet start's figure... and the
  server's own start-up, imports included, is most of both);
- a trivial query's p50/p99 while the backlog drains and then on the quiet server, with
  the same load (target: p99 while draining within 2x quiet), and how long it drained.
"""

import argparse
import asyncio
import shutil
import sqlite3
import sys
import time

import asyncpg
from data_scale import PG_SERVER, Shape, Store, _pg_admin, prepare
from servers import Load, Server, closed_loop, for_seconds, server_env

HOLDING = "(status IN ('APPROVED', 'NEEDS_MANAGER') OR revocation_pending{})"
TARGET_RATIO = 2.0


def copy_of(template: Store) -> Store:
    run = Store(
        template.engine,
        f"{template.name}_run",
        template.data_dir.with_name(f"{template.name}_run-{template.engine}"),
        template.shape,
        template.now,
    )
    shutil.rmtree(run.data_dir, ignore_errors=True)
    run.data_dir.mkdir(parents=True)
    if run.engine == "sqlite":
        shutil.copy2(template.data_dir / "powerpermit.db", run.data_dir / "powerpermit.db")
    else:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{run.name}" WITH (FORCE)'))
        asyncio.run(_pg_admin(f'CREATE DATABASE "{run.name}" TEMPLATE "{template.name}"'))
    return run


async def overdue_left(store: Store) -> int:
    now = int(time.time())
    if store.engine == "sqlite":
        db = sqlite3.connect(store.data_dir / "powerpermit.db")
        try:
            sql = f"SELECT count(*) FROM usage_requests WHERE {HOLDING.format(' = 1')} "
            return int(db.execute(sql + "AND ends_at <= ?", (now,)).fetchone()[0])
        finally:
            db.close()
    conn = await asyncpg.connect(f"postgresql://{PG_SERVER}/{store.name}")
    try:
        sql = f"SELECT count(*) FROM usage_requests WHERE {HOLDING.format('')} AND ends_at <= $1"
        return int(await conn.fetchval(sql, now))
    finally:
        await conn.close()


async def run(store: Store, concurrency: int, timeout: float) -> None:
    backlog = await overdue_left(store)
    print(f"{store.engine}: {backlog:,} overdue requests; starting the server ...", flush=True)
    server = Server(server_env(store.data_dir, store.url), store.data_dir / "server.log")
    try:
        first = await server.first_health()
        print(f"  first /healthz {first:.2f} s after spawning the server", flush=True)
        drained_at: list[float] = []
        left = backlog

        async def watch() -> None:
            nonlocal left
            while time.perf_counter() - server.started < timeout:
                left = await overdue_left(store)
                if left == 0:
                    break
                print(f"  {left:>8,} overdue left", flush=True)
                await asyncio.sleep(1.0)
            drained_at.append(time.perf_counter() - server.started)

        watching = asyncio.create_task(watch())
        draining = await closed_loop([server.port], concurrency, lambda: bool(drained_at))
        await watching
        drained = f"{backlog - left:,} of {backlog:,} drained {drained_at[0]:.0f} s after spawn"
        print(f"  {drained}", flush=True)
        quiet = await closed_loop(
            [server.port], concurrency, for_seconds(min(max(draining.elapsed, 5.0), 15.0))
        )
    finally:
        server.stop()
    again = Server(server_env(store.data_dir, store.url), store.data_dir / "server-quiet.log")
    try:
        quiet_start = await again.first_health()
    finally:
        again.stop()
    report(store.engine, backlog, first, quiet_start, drained, draining, quiet)


def report(
    engine: str, backlog: int, first: float, quiet_start: float, drained: str,
    draining: Load, quiet: Load,
) -> None:  # fmt: skip
    print(f"\n{engine}: {backlog:,} overdue of a 1,000,000-request store")
    print(f"  first /healthz after spawn: {first:.2f} s with the backlog, "
          f"{quiet_start:.2f} s without (difference {first - quiet_start:+.2f} s)")  # fmt: skip
    print(f"  {drained}")
    print(f"  {'{ __typename }':16} {'calls':>7} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7}")
    for label, load in (("while draining", draining), ("quiet", quiet)):
        print(
            f"  {label:16} {len(load.latencies):7} {load.rate:7.0f} "
            f"{load.pct(0.5):7.2f} {load.pct(0.99):7.2f}"
            + (f"  ({load.failed} failed: {load.first_error})" if load.failed else "")
        )
    ratio = draining.pct(0.99) / quiet.pct(0.99) if quiet.latencies else float("nan")
    verdict = "meets" if ratio <= TARGET_RATIO else "ABOVE"
    print(f"  p99 draining / quiet: {ratio:.2f}x ({verdict} target {TARGET_RATIO:g}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--devices", type=int, default=1_000)
    parser.add_argument("--overdue", type=int, default=150_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--timeout", type=float, default=1200.0, help="stop waiting for the drain after"
    )
    parser.add_argument("--fresh", action="store_true", help="generate the store again")
    args = parser.parse_args()
    shape = Shape(args.requests, args.devices, args.overdue)
    engines = ("sqlite", "postgresql") if args.engine == "both" else (args.engine,)
    for engine in engines:
        template = prepare(engine, "pp_bench_backlog", shape, args.fresh)
        store = copy_of(template)
        try:
            asyncio.run(run(store, args.concurrency, args.timeout))
        finally:
            if engine == "postgresql":
                asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{store.name}" WITH (FORCE)'))
            shutil.rmtree(store.data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
