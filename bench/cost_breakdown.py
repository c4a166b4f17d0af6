"""Where a `requestUsage` spends the server's CPU, against `{ __typename }`.

Run: `.venv/bin/python bench/cost_breakdown.py [--requests 2000] [--rounds 5]`.

In one process, over the ASGI interface (no sockets, no uvicorn) and on CPU time (so
waiting for the disk is not counted; the HTTP bench is CPU-bound on the server):

1. `{ __typename }`;
2. the requestUsage mutation with its use case answered from memory: HTTP body, GraphQL
   parsing of the input, resolver, union result and nested fields, JSON answer;
3. the use case alone (rules, overlap check, signing, inserts, commit), 16 at a time;
4. the whole mutation, 16 at a time.

It then says how much CPU the use case may take for the mutation to reach 50% of the
trivial query's throughput, with uvicorn's share per request taken from `--http-trivial`
(requests/s of the trivial query in bench/request_usage.py on this machine). Medians over
rounds; the same data directory and server objects for all four.
"""

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from request_usage import TRIVIAL, Bench, add_bench_site, cli, env_for  # noqa: E402

CONCURRENCY = 16


class Asgi:
    """POSTs straight into the Starlette app."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def post(self, body: bytes, token: str | None) -> bytes:
        headers = [(b"host", b"bench"), (b"content-type", b"application/json")]
        if token:
            headers.append((b"authorization", f"Bearer {token}".encode()))
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": "/graphql", "raw_path": b"/graphql",
            "root_path": "", "query_string": b"", "headers": headers,
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
        }  # fmt: skip
        sent: list[dict[str, Any]] = []
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                await asyncio.Event().wait()  # the body came whole; nothing more arrives
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        assert sent[0]["status"] == 200, sent
        return bytes(sent[1]["body"])


async def cpu_per_call(
    call: Callable[[], Awaitable[Any]], count: int, rounds: int, concurrency: int
) -> float:
    """Median over rounds of CPU seconds per call, `concurrency` calls in flight."""
    per_round = []
    for _ in range(rounds):

        async def worker(n: int) -> None:
            for _ in range(n):
                await call()

        started = time.process_time()
        await asyncio.gather(*(worker(count // concurrency) for _ in range(concurrency)))
        per_round.append((time.process_time() - started) / (count // concurrency * concurrency))
    return statistics.median(per_round)


async def measure(bench: Bench, args: argparse.Namespace) -> dict[str, float]:
    from app.main import create_app
    from app.services import usage
    from app.services.accounts import authenticate
    from app.services.container import build_services
    from app.services.rate_limits import RateLimiter
    from app.settings import Settings

    services = build_services(Settings.from_env())
    services.limits = RateLimiter(enabled=False)  # the mutation's cost, not its refusal
    app = create_app(services=services)
    asgi = Asgi(app)
    figures: dict[str, float] = {}
    real = usage.request_usage  # the schema reaches it through this module attribute
    async with app.router.lifespan_context(app):
        users = [await authenticate(services, token) for token in bench.tokens]

        async def trivial() -> None:
            assert b"Query" in await asgi.post(TRIVIAL, None)

        async def full() -> None:
            body, token = bench.mutation_body()
            assert b"APPROVED" in await asgi.post(body, token)

        async def use_case() -> None:
            n = bench.next_slot
            bench.next_slot += 1
            device = bench.devices[n % len(bench.devices)]
            starts_at = bench.base + timedelta(minutes=30) * (n // len(bench.devices))
            user = users[n % len(users)]
            assert user is not None
            asked = await real(services, user, device, starts_at, timedelta(minutes=30))
            assert asked.permit is not None

        print("warm-up ...", flush=True)
        await cpu_per_call(trivial, 500, 1, CONCURRENCY)
        await cpu_per_call(full, 500, 1, CONCURRENCY)

        # The same answer every time: the GraphQL layer's cost without the use case's.
        body, token = bench.mutation_body()
        captured: list[Any] = []

        async def capture(*a: Any, **k: Any) -> Any:
            captured.append(await real(*a, **k))
            return captured[-1]

        usage.request_usage = capture  # type: ignore[assignment]
        await asgi.post(body, token)

        async def answer_from_memory(*_: Any, **__: Any) -> Any:
            return captured[0]

        async def graphql_only() -> None:
            assert b"APPROVED" in await asgi.post(body, token)

        usage.request_usage = answer_from_memory  # type: ignore[assignment]
        try:
            steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
                ("trivial", trivial),
                ("graphql_only", graphql_only),
                ("use_case", use_case),
            ]
            for name, call in steps:
                print(f"measuring {name} ...", flush=True)
                figures[name] = await cpu_per_call(call, args.requests, args.rounds, CONCURRENCY)
        finally:
            usage.request_usage = real  # type: ignore[assignment]
        print("measuring the use case's SQL statements and signature ...", flush=True)
        figures.update(await floor_of_use_case(services, use_case, args.requests))
        print("measuring full ...", flush=True)
        figures["full"] = await cpu_per_call(full, args.requests, args.rounds, CONCURRENCY)
    return figures


async def floor_of_use_case(
    services: Any, use_case: Callable[[], Awaitable[Any]], count: int
) -> dict[str, float]:
    """Wall time inside the driver's execute calls and inside signing, per use case."""
    from app.store.prepared import Prepared

    spent = {"sql": 0.0, "sign": 0.0}
    execute, issue = Prepared._execute, services.signer.issue

    def timed_execute(self: Prepared, conn: Any, params: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return execute(self, conn, params)
        finally:
            spent["sql"] += time.perf_counter() - started

    def timed_issue(*a: Any, **k: Any) -> Any:
        started = time.perf_counter()
        try:
            return issue(*a, **k)
        finally:
            spent["sign"] += time.perf_counter() - started

    Prepared._execute = timed_execute  # type: ignore[method-assign]
    services.signer.issue = timed_issue
    try:
        for _ in range(count // 4):
            await use_case()
    finally:
        Prepared._execute = execute  # type: ignore[method-assign]
        services.signer.issue = issue
    return {name: total / (count // 4) for name, total in spent.items()}


def report(figures: dict[str, float], http_trivial: float) -> None:
    us = {name: seconds * 1e6 for name, seconds in figures.items()}
    uvicorn = 1e6 / http_trivial - us["trivial"]
    print()
    print("server CPU per request, in-process (medians)")
    rows = [
        ("{ __typename }", us["trivial"]),
        ("requestUsage, use case answered from memory", us["graphql_only"]),
        ("the use case alone, 16 at a time", us["use_case"]),
        ("  of which the eight SQL statements", us["sql"]),
        ("  of which building and signing the permit", us["sign"]),
        ("requestUsage, whole", us["full"]),
        (f"uvicorn's share at {http_trivial:.0f} trivial req/s", uvicorn),
    ]
    for label, value in rows:
        print(f"  {label:46} {value:6.0f} µs")
    budget = 2 * (us["trivial"] + uvicorn) - (us["graphql_only"] + uvicorn)
    print()
    print(
        f"for 50%, the use case may cost at most {budget:.0f} µs; it costs {us['use_case']:.0f} µs"
    )
    ceiling = (us["trivial"] + uvicorn) / (us["graphql_only"] + uvicorn)
    print(f"ceiling with a use case that costs nothing: {ceiling:.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--http-trivial", type=float, default=3200.0)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="pp-cost-"))
    try:
        cli(data_dir, "migrate")
        cli(data_dir, "seed-demo", "--json")
        # ~22,500 asks over 600 chargers: every slot starts within the 24 h permit lead,
        # so every approval signs a permit.
        bench = add_bench_site(data_dir, 600, 64)
        os.environ.update(env_for(data_dir))
        report(asyncio.run(measure(bench, args)), args.http_trivial)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
