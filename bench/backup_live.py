"""`powerpermit backup` while the server serves: how long a backup of a big SQLite store
takes, and what it does to the server's answers meanwhile.

Run: `.venv/bin/python bench/backup_live.py [--requests 200000] [--seconds 6]`

One `powerpermit serve` on a copy of bench/data_scale.py's store (generated once into
var/bench/, then reused) plus a busy site for fresh asks. A closed loop of `requestUsage`
(writes: every ask its own slot, so each is approved) and `{ __typename }` (reads) runs
against it, first quiet for --seconds, then for as long while the same copy runs again
and again without lowered CPU priority, then while `powerpermit backup` (niceness 10) does.
Prints the store's size, each backup's time and rate, and p50/p99 of both calls quiet and
during backups, with the ratios, all from the same run.
"""

import argparse
import asyncio
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from data_scale import Shape, prepare
from request_usage import ROOT, Bench
from servers import Load, Server, closed_loop, server_env

sys.path.insert(0, str(ROOT))

from app.services.demo import add_busy_site  # noqa: E402
from app.store.database import Database  # noqa: E402

WRITERS, READERS = 2, 2  # connections per call kind


def answered(expect: bytes) -> Callable[[int, bytes], bool]:
    return lambda status, reply: status == 200 and expect in reply


async def loads(port: int, bench: Bench, stop: asyncio.Event) -> tuple[Load, Load]:
    writes = closed_loop([port], WRITERS, stop.is_set, bench.mutation_body, answered(b'"APPROVED"'))
    reads = closed_loop([port], READERS, stop.is_set, ok=answered(b'"Query"'))
    done = await asyncio.gather(writes, reads)
    return done[0], done[1]


async def quiet(port: int, bench: Bench, seconds: float) -> tuple[Load, Load]:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    return await loads(port, bench, stop)


# The same copy without `powerpermit backup`'s lowered CPU priority, for the comparison.
UNNICED = (
    "import sys; from pathlib import Path; from app.store.backup import backup; "
    "backup(sys.argv[1], Path(sys.argv[2]))"
)


async def during_backups(
    port: int, bench: Bench, seconds: float, env: dict[str, str], out_dir: Path, niced: bool
) -> tuple[Load, Load, list[float]]:
    stop = asyncio.Event()
    running = asyncio.create_task(loads(port, bench, stop))
    await asyncio.sleep(0.5)  # the loads are flowing before the first copy starts
    took: list[float] = []
    until = time.perf_counter() + seconds
    while time.perf_counter() < until or not took:
        target = out_dir / f"backup-{len(took)}.sqlite"
        started = time.perf_counter()
        if niced:
            command = ["-m", "app.cli", "backup", str(target)]
        else:
            command = ["-c", UNNICED, env["DATABASE_URL"], str(target)]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *command,
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        if process.returncode != 0:
            sys.exit(f"backup failed: {err.decode()}")
        whole = time.perf_counter() - started
        copy = re.search(r" in ([0-9.]+) s", out.decode())
        took.append(float(copy.group(1)) if copy else whole)
        print(f"  backup {len(took)}: copy {took[-1]:.2f} s, process {whole:.2f} s", flush=True)
        target.unlink()
    stop.set()
    writes, reads = await running
    return writes, reads, took


def line(name: str, calm: Load, busy: Load) -> str:
    return (
        f"{name:14} {calm.pct(0.5):8.2f} {calm.pct(0.99):8.2f} {busy.pct(0.5):8.2f} "
        f"{busy.pct(0.99):8.2f} {busy.pct(0.99) / calm.pct(0.99):6.2f}x "
        f"{calm.rate:7.0f} {busy.rate:7.0f} {calm.failed + busy.failed:5}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()

    store = prepare("sqlite", "pp_bench_backup", Shape(args.requests, args.devices))
    work = Path(tempfile.mkdtemp(prefix="pp-bench-backup-"))
    server = None
    try:
        data_dir = work / "data"
        shutil.copytree(store.data_dir, data_dir)  # the kept store stays as generated
        url = f"sqlite:///{data_dir / 'powerpermit.db'}"
        now = datetime.now(UTC)
        db = Database(url)
        device_ids, tokens = db.run_sync(
            lambda conn: add_busy_site(conn, "backup", devices=20, drivers=8, now=now)
        )
        db.engine.dispose()
        bench = Bench(tokens, device_ids, (now + timedelta(hours=1)).replace(minute=0))
        size = (data_dir / "powerpermit.db").stat().st_size
        env = server_env(data_dir, url)
        server = Server(env, work / "server.log")
        asyncio.run(server.first_health(path="/readyz"))
        port = server.port
        print(f"store: {args.requests:,} requests, {size / 2**20:.0f} MiB", flush=True)
        asyncio.run(quiet(port, bench, 1.0))  # warm-up: caches filled, connections made
        print(f"quiet for {args.seconds:g} s ...", flush=True)
        calm_writes, calm_reads = asyncio.run(quiet(port, bench, args.seconds))
        during = {}
        for niced in (False, True):
            label = "powerpermit backup (niced)" if niced else "the same copy, not niced"
            print(f"{label} for {args.seconds:g} s ...", flush=True)
            during[niced] = asyncio.run(during_backups(port, bench, args.seconds, env, work, niced))
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    took = during[True][2] + during[False][2]
    backup_s = statistics.median(took)
    print(
        f"\nbackup of {size / 2**20:.0f} MiB: the copy took a median {backup_s:.2f} s over "
        f"{len(took)} ({size / 2**20 / backup_s:.0f} MiB/s; checked and renamed, without "
        "the command's start-up)"
    )
    print(
        f"\n{'call':14} {'quiet':>17} {'during backup':>17} {'p99':>7} {'req/s':>15} "
        f"{'fail':>5}\n{'':14} {'p50 ms':>8} {'p99 ms':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'ratio':>7} {'quiet':>7} {'backup':>7}"
    )
    for niced in (False, True):
        busy_writes, busy_reads, _ = during[niced]
        print("niced (powerpermit backup):" if niced else "not niced:")
        print(line("requestUsage", calm_writes, busy_writes))
        print(line("{ __typename }", calm_reads, busy_reads))


if __name__ == "__main__":
    main()
