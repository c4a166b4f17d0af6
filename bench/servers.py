"""Real `powerpermit serve` processes for the benches, and a closed-loop load on them.

The client is bench/request_usage.py's minimal HTTP/1.1 keep-alive client: on this 2-core
machine the load generator must cost far less CPU than the server it measures.
"""

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from request_usage import ROOT, Connection, free_port

TRIVIAL = b'{"query": "{ __typename }"}'


def server_env(data_dir: Path, database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["POWERPERMIT_DATA_DIR"] = str(data_dir)
    env["DATABASE_URL"] = database_url
    return env


class Server:
    """One `powerpermit serve` on a free loopback port; `started` is when it was spawned."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log.open("wb")
        self.started = time.perf_counter()
        # Rate limits off: these benches measure floods of writes, not their refusal.
        serve = ["serve", "--port", str(self.port), "--rate-limit-factor", "0"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *serve],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    async def first_health(self, timeout: float = 120.0, path: str = "/healthz") -> float:
        """Seconds from spawning the process to its first 200 on `path` (polled every
        10 ms; a connection that hangs counts, the server accepted it but is stalled)."""
        deadline = self.started + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                conn = await Connection.open(self.port)
                try:
                    status, _ = await conn.request("GET", path, b"", None)
                finally:
                    await conn.close()
                if status == 200:
                    return time.perf_counter() - self.started
            except OSError:
                pass
            await asyncio.sleep(0.01)
        sys.exit(f"server did not answer {path} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@dataclass
class Load:
    """Latencies (s) of one kind of call, and how many failed."""

    latencies: list[float] = field(default_factory=list)
    failed: int = 0
    elapsed: float = 0.0
    first_error: str | None = None

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


async def closed_loop(
    ports: list[int],
    concurrency: int,
    stop: Callable[[], bool],
    body: Callable[[], tuple[bytes, str | None]] = lambda: (TRIVIAL, None),
    ok: Callable[[int, bytes], bool] = lambda status, _: status == 200,
) -> Load:
    """`concurrency` connections spread over `ports`, each sending the next call as soon as
    the previous one answered, until `stop()` says so."""
    load = Load()
    conns = [await Connection.open(ports[i % len(ports)]) for i in range(concurrency)]

    async def worker(conn: Connection) -> None:
        while not stop():
            payload, token = body()
            started = time.perf_counter()
            status, reply = await conn.request("POST", "/graphql", payload, token)
            if ok(status, reply):
                load.latencies.append(time.perf_counter() - started)
            else:
                load.failed += 1
                load.first_error = load.first_error or f"{status} {reply[:300]!r}"

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(conn) for conn in conns))
    finally:
        load.elapsed = time.perf_counter() - started
        for conn in conns:
            await conn.close()
    return load


def for_seconds(seconds: float) -> Callable[[], bool]:
    until = time.perf_counter() + seconds
    return lambda: time.perf_counter() >= until
