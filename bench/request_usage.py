"""`requestUsage` (automatic approval) against a trivial `{ __typename }` on one live server.

Run: `.venv/bin/python bench/request_usage.py [--rounds 4] [--seconds 6] [--concurrency 16]`.

Starts its own `powerpermit serve` on a free loopback port over a temporary data directory
(`migrate`, `seed-demo`, then a bench-only site inserted with SQLAlchemy Core: a policy with
no practical open-request limit, many devices and drivers, each driver with an API token).
Every mutation books its own slot (device i, the k-th half hour ahead), so each one goes the
whole way: rule evaluation, overlap check, signing, commit. The two kinds alternate in
rounds at the same concurrency; the medians over the rounds are printed with requests/s,
p50, p99 and the mutation/trivial throughput ratio (target >= 50%).

The client is a minimal HTTP/1.1 keep-alive client on asyncio streams (one connection per
worker), so the load generator costs far less CPU than httpx would on this 2-core machine.
`--count-sql` instead runs one mutation in-process and prints the SQL statements it issues.
"""

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.services.demo import add_busy_site  # noqa: E402
from app.store.database import create_sync_engine  # noqa: E402

TARGET = 0.50
SITE = "bench"
SLOT = timedelta(minutes=30)
TRIVIAL = json.dumps({"query": "{ __typename }"}).encode()
MUTATION = """mutation Ask($input: RequestUsageInput!) { requestUsage(input: $input) {
  __typename
  ... on UsageRequest { id status permit { id token qrText } device { id name } }
  ... on RequestDenied { reasons { code } } } }"""


@dataclass
class Bench:
    """What the bench site gave us: tokens by driver, device ids, the first slot start."""

    tokens: list[str]
    devices: list[str]
    base: datetime
    next_slot: int = 0

    def mutation_body(self) -> tuple[bytes, str]:
        n = self.next_slot
        self.next_slot += 1
        device = self.devices[n % len(self.devices)]
        starts_at = self.base + SLOT * (n // len(self.devices))
        variables = {
            "input": {
                "deviceId": device,
                "startsAt": starts_at.isoformat(),
                "durationMinutes": SLOT // timedelta(minutes=1),
            }
        }
        body = json.dumps({"query": MUTATION, "variables": variables}).encode()
        return body, self.tokens[n % len(self.tokens)]


@dataclass
class Round:
    kind: str
    done: int = 0
    failed: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    first_error: str | None = None

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed else 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


# --- server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env_for(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["POWERPERMIT_DATA_DIR"] = str(data_dir)
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{data_dir / 'powerpermit.db'}"
    return env


def cli(data_dir: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=env_for(data_dir),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode:
        sys.exit(f"powerpermit {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def add_bench_site(data_dir: Path, devices: int, drivers: int) -> Bench:
    now = datetime.now(UTC)
    engine = create_sync_engine(env_for(data_dir)["DATABASE_URL"])
    with engine.begin() as conn:
        device_ids, tokens = add_busy_site(conn, SITE, devices=devices, drivers=drivers, now=now)
    engine.dispose()
    base = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return Bench(tokens, device_ids, base)


# The benches measure what a flood costs, not how the rate limits refuse it
# (bench/rate_limit_abuse.py does that): their servers run with the limits off.
UNLIMITED = ("--rate-limit-factor", "0")


class Server:
    def __init__(self, data_dir: Path, serve_args: tuple[str, ...] = UNLIMITED) -> None:
        self.port = free_port()
        self.log = (data_dir / "server.log").open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                *serve_args,
            ],
            cwd=ROOT,
            env=env_for(data_dir),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    async def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"server exited with {self.proc.returncode}")
            try:
                conn = await Connection.open(self.port)
                status, _ = await conn.request("GET", "/healthz", b"", None)
                await conn.close()
                if status == 200:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.1)
        sys.exit("server did not become healthy")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# --- client ---------------------------------------------------------------------------------


class Connection:
    """HTTP/1.1 keep-alive on asyncio streams; enough for uvicorn's Content-Length replies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int):
        self.reader, self.writer, self.port = reader, writer, port

    @classmethod
    async def open(cls, port: int) -> "Connection":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, port)

    async def request(
        self, method: str, path: str, body: bytes, token: str | None
    ) -> tuple[int, bytes]:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Type: application/json\r\nAccept: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
        )
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def run_round(kind: str, conns: list[Connection], bench: Bench, seconds: float) -> Round:
    result = Round(kind)
    stop_at = time.perf_counter() + seconds

    async def worker(conn: Connection) -> None:
        while time.perf_counter() < stop_at:
            if kind == "trivial":
                body, token = TRIVIAL, None
            else:
                body, token = bench.mutation_body()
            started = time.perf_counter()
            status, reply = await conn.request("POST", "/graphql", body, token)
            result.latencies.append(time.perf_counter() - started)
            ok = status == 200 and (
                b'"__typename":"Query"' in reply
                if kind == "trivial"
                else b'"status":"APPROVED"' in reply
            )
            if ok:
                result.done += 1
            else:
                result.failed += 1
                result.first_error = result.first_error or f"{status} {reply[:300]!r}"

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    result.elapsed = time.perf_counter() - started
    return result


def report(rounds: list[Round]) -> None:
    print()
    print(f"{'kind':14} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9}   (medians over rounds)")
    medians: dict[str, float] = {}
    for kind in ("trivial", "mutation"):
        mine = [r for r in rounds if r.kind == kind]
        rate = statistics.median(r.rate for r in mine)
        p50 = statistics.median(r.pct(0.50) for r in mine)
        p99 = statistics.median(r.pct(0.99) for r in mine)
        medians[kind] = rate
        label = "{ __typename }" if kind == "trivial" else "requestUsage"
        print(f"{label:14} {rate:9.0f} {p50:9.2f} {p99:9.2f}")
    ratio = medians["mutation"] / medians["trivial"]
    verdict = "meets" if ratio >= TARGET else "BELOW"
    print(f"\nratio requestUsage / trivial throughput: {ratio:.1%} ({verdict} target {TARGET:.0%})")


async def alternating_rounds(
    conns: list[Connection], bench: Bench, args: argparse.Namespace, label: str = ""
) -> list[Round]:
    """A warm-up of each kind, then `args.rounds` rounds of both, the order flipped every
    round so neither kind always runs on a warmer server; `label` prefixes each line."""
    for kind in ("trivial", "mutation"):
        warm = await run_round(kind, conns, bench, args.warmup)
        if warm.failed:
            sys.exit(f"{label}{kind} failed during warm-up: {warm.first_error}")
    rounds = []
    for n in range(1, args.rounds + 1):
        for kind in ("trivial", "mutation") if n % 2 else ("mutation", "trivial"):
            done = await run_round(kind, conns, bench, args.seconds)
            rounds.append(done)
            print(
                f"{label}round {n}/{args.rounds} {kind:8} {done.rate:7.0f} req/s  "
                f"p50 {done.pct(0.5):6.2f} ms  p99 {done.pct(0.99):7.2f} ms  "
                f"({done.done} ok, {done.failed} failed)",
                flush=True,
            )
            if done.failed:
                print(f"{label}  first failure: {done.first_error}", flush=True)
    return rounds


async def load(args: argparse.Namespace, bench: Bench, server: Server) -> list[Round]:
    await server.wait_healthy()
    conns = [await Connection.open(server.port) for _ in range(args.concurrency)]
    try:
        print(f"warm-up {args.warmup:.0f}s each kind ...", flush=True)
        return await alternating_rounds(conns, bench, args)
    finally:
        for conn in conns:
            await conn.close()


def count_sql(data_dir: Path, bench: Bench) -> None:
    """One mutation and one trivial query in-process; prints each SQL statement issued."""
    import httpx

    from app.main import create_app
    from app.services.container import build_services
    from app.settings import Settings

    os.environ.update(env_for(data_dir))
    services = build_services(Settings.from_env())
    statements: list[str] = []

    def trace(dbapi_connection: Any, *_: Any) -> None:
        # SQLite's own trace: the hot path runs on the driver cursor, past SQLAlchemy's events.
        dbapi_connection.set_trace_callback(
            lambda sql: statements.append(" ".join(sql.split())[:110])
        )

    sa.event.listen(services.db.engine, "checkout", trace)

    async def go() -> None:
        transport = httpx.ASGITransport(app=create_app(services=services))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for kind in ("trivial", "mutation", "mutation"):
                statements.clear()
                if kind == "trivial":
                    await client.post("/graphql", content=TRIVIAL)
                else:
                    body, token = bench.mutation_body()
                    reply = await client.post(
                        "/graphql",
                        content=body,
                        headers={
                            "Authorization": f"Bearer {token}",
                            "Content-Type": "application/json",
                        },
                    )
                    assert b"APPROVED" in reply.content, reply.text
                print(f"{kind}: {len(statements)} SQL statements")
                for statement in statements:
                    print(f"   {statement}")

    asyncio.run(go())
    services.db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=6.0, help="per kind per round")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=16)
    # Enough chargers that a whole run's slots (~21,000 at ~800 req/s) start within the
    # 24 h permit lead: every approval still signs a permit, as a driver booking soon sees.
    parser.add_argument("--devices", type=int, default=600)
    parser.add_argument("--drivers", type=int, default=64)
    parser.add_argument("--count-sql", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="pp-bench-"))
    try:
        print(f"data dir {data_dir}: migrate, seed-demo, bench site ...", flush=True)
        cli(data_dir, "migrate")
        cli(data_dir, "seed-demo", "--json")
        bench = add_bench_site(data_dir, args.devices, args.drivers)
        if args.count_sql:
            count_sql(data_dir, bench)
            return
        server = Server(data_dir)
        try:
            print(
                f"server on 127.0.0.1:{server.port} (pid {server.proc.pid}), "
                f"concurrency {args.concurrency}",
                flush=True,
            )
            rounds = asyncio.run(load(args, bench, server))
        finally:
            server.stop()
        report(rounds)
    finally:
        if args.keep:
            print(f"kept {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
