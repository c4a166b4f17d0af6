"""One principal floods mutations while another works: the other's latency beside its quiet
latency, and what the server spends on each refused request.

Run: `.venv/bin/python bench/rate_limit_abuse.py [--rounds 3] [--seconds 5] [--flooders 8]`.

Starts its own `powerpermit serve` with the default rate limits (docs/deploy.md) on a free
loopback port over a temporary data directory (`migrate`, `seed-demo`). Each round runs
twice, quiet and flooded, for `--seconds`:

- the worker (the demo's second driver, from 127.0.0.3): one connection asking
  `{ me { id } }` 50 times a second, and one sending `setMyLanguage` 8 times a second
  (under its 10/s limit);
- the flood (the first driver, from 127.0.0.2): `--flooders` connections sending
  `setMyLanguage` back to back; past its burst nearly all are refused with 429;
- for comparison, the same flood of `{ me { id } }` queries, which are not limited.

Separate source addresses keep the per-address limit out of it (several principals behind
one address share that one: tests/schema/test_rate_limits.py). The server's CPU is read
from /proc before and after each run; a refused request's cost is the flooded run's CPU
minus the quiet run's, over the refusals. The limiter's own cost is timed in process.
"""

import argparse
import asyncio
import contextlib
import json
import shutil
import sys
import tempfile
import time
import timeit
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.request_usage import Connection, Server, cli  # noqa: E402

QUERY = json.dumps({"query": "{ me { id } }"}).encode()
MUTATION = json.dumps(
    {"query": 'mutation { setMyLanguage(language: "en") { __typename } }'}
).encode()
WORKER_QUERIES_PER_S = 50  # paced, so the worker's load is the same quiet and flooded
WORKER_MUTATIONS_PER_S = 8
TICKS_PER_S = 100  # /proc's clock ticks (USER_HZ)


async def connect(port: int, source: str) -> Connection:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    return Connection(reader, writer, port)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S  # utime + stime


def pct(latencies: list[float], q: float) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


class Run:
    def __init__(self) -> None:
        self.queries: list[float] = []
        self.mutations: list[float] = []
        self.worker_refused = 0
        self.flood: Counter[int] = Counter()
        self.cpu = 0.0


async def run_once(
    port: int,
    pid: int,
    worker: str,
    flooder: str | None,
    flooders: int,
    seconds: float,
    flood_body: bytes = MUTATION,
) -> Run:
    run = Run()
    deadline = time.perf_counter() + seconds
    body = MUTATION

    async def queries(conn: Connection) -> None:
        next_at = time.perf_counter()
        while (now := time.perf_counter()) < deadline:
            await asyncio.sleep(max(0.0, next_at - now))
            next_at += 1 / WORKER_QUERIES_PER_S
            started = time.perf_counter()
            status, _ = await conn.request("POST", "/graphql", QUERY, worker)
            assert status == 200, status
            run.queries.append(time.perf_counter() - started)

    async def mutations(conn: Connection) -> None:
        next_at = time.perf_counter()
        while (now := time.perf_counter()) < deadline:
            await asyncio.sleep(max(0.0, next_at - now))
            next_at += 1 / WORKER_MUTATIONS_PER_S
            started = time.perf_counter()
            status, _ = await conn.request("POST", "/graphql", body, worker)
            run.mutations.append(time.perf_counter() - started)
            run.worker_refused += status == 429

    async def flood(conn: Connection, token: str) -> None:
        while time.perf_counter() < deadline:
            status, _ = await conn.request("POST", "/graphql", flood_body, token)
            run.flood[status] += 1

    conns = [await connect(port, "127.0.0.3") for _ in range(2)]
    flood_conns = [await connect(port, "127.0.0.2") for _ in range(flooders if flooder else 0)]
    before = cpu_seconds(pid)
    try:
        await asyncio.gather(
            queries(conns[0]),
            mutations(conns[1]),
            *(flood(conn, flooder) for conn in flood_conns if flooder),
        )
    finally:
        run.cpu = cpu_seconds(pid) - before
        for conn in conns + flood_conns:
            await conn.close()
    return run


def limiter_cost() -> tuple[float, float]:
    """µs per check_all of a principal and an address: accepted, and refused."""
    from app.services.errors import RateLimited
    from app.services.rate_limits import RateLimiter, Rule

    roomy, empty = Rule(1e9, 10**9), Rule(1e-9, 1)
    limiter = RateLimiter()
    pairs = (("mutation:user:u1", roomy), ("mutation:address:127.0.0.2", roomy))
    accepted = min(timeit.repeat(lambda: limiter.check_all(*pairs), number=20_000, repeat=5))
    limiter.check("mutation:user:u2", empty)
    refused_pairs = (("mutation:user:u2", empty), ("mutation:address:127.0.0.2", roomy))

    def refuse() -> None:
        with contextlib.suppress(RateLimited):
            limiter.check_all(*refused_pairs)

    refused = min(timeit.repeat(refuse, number=20_000, repeat=5))
    return accepted / 20_000 * 1e6, refused / 20_000 * 1e6


async def bench(args: argparse.Namespace, server: Server, tokens: dict[str, str]) -> None:
    await server.wait_healthy()
    pid, port = server.proc.pid, server.port
    print(f"warm-up {args.warmup:.0f}s ...", flush=True)
    await run_once(port, pid, tokens["user2"], None, 0, args.warmup)
    quiet: list[Run] = []
    flooded: list[Run] = []
    queried: list[Run] = []
    kinds = (
        ("quiet", quiet, None, MUTATION),
        ("flooded", flooded, tokens["user"], MUTATION),
        # The same flood of queries, which are not limited: what answering costs, beside.
        ("queried", queried, tokens["user"], QUERY),
    )
    for n in range(1, args.rounds + 1):
        for label, runs, flooder, flood_body in kinds:
            run = await run_once(
                port, pid, tokens["user2"], flooder, args.flooders, args.seconds, flood_body
            )
            runs.append(run)
            told = ", ".join(f"{status} ×{count}" for status, count in sorted(run.flood.items()))
            print(
                f"round {n}/{args.rounds} {label:8} worker query p50 {pct(run.queries, 0.5):6.2f} "
                f"p99 {pct(run.queries, 0.99):6.2f} ms  mutation p50 "
                f"{pct(run.mutations, 0.5):6.2f} p99 {pct(run.mutations, 0.99):6.2f} ms  "
                f"worker refused {run.worker_refused}  server CPU {run.cpu:.2f} s"
                + (f"  flood answered: {told}" if told else ""),
                flush=True,
            )
            # The buckets refill between runs: every flood starts from a full burst.
            await asyncio.sleep(6)

    def pooled(runs: list[Run], kind: str, q: float) -> float:
        return pct([x for run in runs for x in getattr(run, kind)], q)

    print()
    head = f"{'quiet p50':>10} {'p99':>8} {'flooded p50':>12} {'p99':>8}"
    print(f"{'worker (other principal)':28} {head}")
    for kind in ("queries", "mutations"):
        print(
            f"{kind:28} {pooled(quiet, kind, 0.5):10.2f} {pooled(quiet, kind, 0.99):8.2f} "
            f"{pooled(flooded, kind, 0.5):12.2f} {pooled(flooded, kind, 0.99):8.2f}   ms"
        )
    refused_total = sum(run.flood[429] for run in flooded)
    served_total = sum(run.flood[200] for run in flooded)
    extra_cpu = sum(run.cpu for run in flooded) - sum(run.cpu for run in quiet)
    print(
        f"flood: {refused_total} refused (429), {served_total} served; worker refused "
        f"{sum(run.worker_refused for run in quiet + flooded)}"
    )
    if refused_total:
        print(
            f"server CPU per refused request (flooded - quiet, over refusals): "
            f"{extra_cpu / refused_total * 1e6:.0f} µs"
        )
    answered_total = sum(run.flood[200] for run in queried)
    if answered_total:
        query_cpu = sum(run.cpu for run in queried) - sum(run.cpu for run in quiet)
        print(
            f"server CPU per answered `{{ me {{ id }} }}` in the same flood: "
            f"{query_cpu / answered_total * 1e6:.0f} µs ({answered_total} answered)"
        )
    accepted, refused = limiter_cost()
    print(
        f"limiter alone (principal + address): accepted {accepted:.2f} µs, refused {refused:.2f} µs"
    )
    print(
        "rounds' flooded/quiet p99, worker queries: "
        + ", ".join(
            f"{pct(f.queries, 0.99) / pct(q.queries, 0.99):.2f}x"
            for q, f in zip(quiet, flooded, strict=True)
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="per run")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--flooders", type=int, default=8, help="connections flooding")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="pp-rate-limits-"))
    try:
        print(f"data dir {data_dir}: migrate, seed-demo ...", flush=True)
        cli(data_dir, "migrate")
        summary = json.loads(cli(data_dir, "seed-demo", "--json").strip().splitlines()[-1])
        tokens = {key: summary[key]["token"] for key in ("user", "user2")}
        server = Server(data_dir, serve_args=())  # the default limits
        try:
            print(f"server on 127.0.0.1:{server.port} (pid {server.proc.pid})", flush=True)
            asyncio.run(bench(args, server, tokens))
        finally:
            server.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
