"""`requestUsage` against a trivial `{ __typename }` with one and two `powerpermit serve`
processes on PostgreSQL and one on SQLite, each pair measured on the same servers in the
same run.

Run: `.venv/bin/python bench/throughput.py [--rounds 3] [--seconds 5] [--concurrency 16]
[--setups sqlite-1,postgresql-1,postgresql-2]`.

Each setup gets a fresh store (a temporary SQLite file, or the PostgreSQL database
`pp_bench_throughput`, dropped and made again): migrated, with bench/request_usage.py's
bench site (many chargers and drivers, only the overlap rule can refuse). Its servers
start on free loopback ports; the client's connections are spread over them evenly. The
two kinds alternate in rounds at the same concurrency, every mutation books a slot of
its own (so it signs a permit and commits), and the medians over the rounds are printed:
requests/s, p50, p99, requestUsage/trivial, and at the end each setup's requestUsage
rate against one process on SQLite.
"""

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from data_scale import PG_SERVER, _pg_admin
from request_usage import ROOT, Bench, Connection, Round, alternating_rounds
from servers import Server, server_env

sys.path.insert(0, str(ROOT))

from app.cli import migrate  # noqa: E402
from app.services.demo import add_busy_site  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.store.database import Database  # noqa: E402

PG_DATABASE = "pp_bench_throughput"
SITE = "bench"


def make_store(engine: str, data_dir: Path, devices: int, drivers: int) -> tuple[str, Bench]:
    if engine == "sqlite":
        url = f"sqlite:///{data_dir / 'powerpermit.db'}"
    else:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
        asyncio.run(_pg_admin(f'CREATE DATABASE "{PG_DATABASE}"'))
        url = f"postgresql+asyncpg://{PG_SERVER}/{PG_DATABASE}"
    migrate(Settings(data_dir, url))
    now = datetime.now(UTC)
    db = Database(url)
    device_ids, tokens = db.run_sync(
        lambda conn: add_busy_site(conn, SITE, devices=devices, drivers=drivers, now=now)
    )
    db.engine.dispose()
    base = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return url, Bench(tokens, device_ids, base)


async def measure(
    setup: str, ports: list[int], bench: Bench, args: argparse.Namespace
) -> list[Round]:
    conns = [await Connection.open(ports[i % len(ports)]) for i in range(args.concurrency)]
    try:
        return await alternating_rounds(conns, bench, args, f"{setup}: ")
    finally:
        for conn in conns:
            await conn.close()


def run_setup(setup: str, args: argparse.Namespace) -> list[Round]:
    engine, _, count = setup.partition("-")
    data_dir = Path(tempfile.mkdtemp(prefix="pp-throughput-"))
    servers: list[Server] = []
    try:
        url, bench = make_store(engine, data_dir, args.devices, args.drivers)
        env = server_env(data_dir, url)
        for n in range(int(count)):
            servers.append(Server(env, data_dir / f"server-{n}.log"))
            asyncio.run(servers[-1].first_health())  # one at a time: the first makes the key
        ports = [server.port for server in servers]
        print(f"{setup}: {len(servers)} server(s) on ports {ports}", flush=True)
        return asyncio.run(measure(setup, ports, bench, args))
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        if engine == "postgresql":
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))


def medians(rounds: list[Round], kind: str) -> tuple[float, float, float]:
    mine = [r for r in rounds if r.kind == kind]
    return (
        statistics.median(r.rate for r in mine),
        statistics.median(r.pct(0.50) for r in mine),
        statistics.median(r.pct(0.99) for r in mine),
    )


def report(results: dict[str, list[Round]]) -> None:
    print(f"\n{'setup':14} {'call':14} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'ratio':>6}")
    mutation_rates = {}
    for setup, rounds in results.items():
        trivial = medians(rounds, "trivial")
        mutation = medians(rounds, "mutation")
        mutation_rates[setup] = mutation[0]
        print(
            f"{setup:14} {'{ __typename }':14} {trivial[0]:7.0f} {trivial[1]:7.2f} "
            f"{trivial[2]:7.2f}"
        )
        print(
            f"{'':14} {'requestUsage':14} {mutation[0]:7.0f} {mutation[1]:7.2f} "
            f"{mutation[2]:7.2f} {mutation[0] / trivial[0]:6.1%}"
        )
    base = mutation_rates.get("sqlite-1")
    if base:
        print("\nrequestUsage req/s against one process on SQLite:")
        for setup, rate in mutation_rates.items():
            print(f"  {setup:14} {rate / base:5.2f}x")
    one, two = mutation_rates.get("postgresql-1"), mutation_rates.get("postgresql-2")
    if one and two:
        print(f"two processes / one on PostgreSQL: {two / one:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setups", default="sqlite-1,postgresql-1,postgresql-2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="per kind per round")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=16)
    # Enough chargers that a run's slots all start within the 24 h permit lead (as in
    # bench/request_usage.py): every approval signs a permit.
    parser.add_argument("--devices", type=int, default=600)
    parser.add_argument("--drivers", type=int, default=64)
    args = parser.parse_args()
    results = {setup: run_setup(setup, args) for setup in args.setups.split(",")}
    report(results)


if __name__ == "__main__":
    main()
