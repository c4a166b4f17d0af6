"""What checking a bearer token costs per API call: an OAuth2 access token (JWT, EdDSA)
beside an opaque login token, cached and uncached.

Run: `.venv/bin/python bench/access_tokens.py [--calls 20000] [--rounds 5]`, and with
`--live [--seconds 6] [--concurrency 16]` also requestUsage on a live server (below).

In one process, over a temporary migrated SQLite store with the demo site and one client:

- jwt first sight: AccessTokens.verify of a token it has not verified before (signature,
  alg, typ, iss, aud, exp);
- jwt verify: AccessTokens.verify of a token it verified before (its expiry only);
- jwt principal: app/auth/bearer.authenticate_bearer, what /graphql does per request
  (verify, the withdrawals check, the user from the token cache);
- opaque cached: accounts.authenticate with the user in the token cache (SHA-256 + dict);
- opaque uncached: accounts.authenticate with the cache emptied first (a store read).

Each call is timed on its own (perf_counter_ns); prints p50 and p99 per round as it ends,
then the medians over the rounds and each one's ratio to the opaque cached lookup.

--live: bench/request_usage.py's server, bench site and client, its requestUsage rounds
run twice per round in the same server, alternating: the drivers' opaque tokens, then an
access token (JWT) per driver, minted with the server's own key set (all scopes, as the
consent of that driver would give). Prints req/s, p50, p99 per kind and JWT/opaque.
"""

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.auth.access_tokens import AccessTokens, load_or_create, new_key_set  # noqa: E402
from app.auth.bearer import authenticate_bearer  # noqa: E402
from app.cli import migrate  # noqa: E402
from app.domain import scopes  # noqa: E402
from app.services import clients  # noqa: E402
from app.services.accounts import authenticate  # noqa: E402
from app.services.container import Services, build_services  # noqa: E402
from app.services.demo import seed_demo  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.request_usage import (  # noqa: E402
    Bench,
    Connection,
    Round,
    Server,
    add_bench_site,
    cli,
    run_round,
)

Call = Callable[[], Awaitable[object]]


async def timed(call: Call, calls: int) -> list[float]:
    """Microseconds per call, each call on its own."""
    spent = []
    for _ in range(calls):
        began = time.perf_counter_ns()
        await call()
        spent.append((time.perf_counter_ns() - began) / 1000)
    return spent


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def cases(services: Services, opaque: str) -> dict[str, Call]:
    tokens = AccessTokens(new_key_set(), Settings.public_url)
    row, _ = await clients.create_client(services, "Bench", "site-1", "requests:read", [])
    jwt, _ = tokens.issue(row.service_user_id, row.client_id, "requests:read", services.clock())

    async def first_sight() -> object:
        tokens._verified.clear()
        return tokens.verify(jwt, services.clock())

    async def verify() -> object:
        return tokens.verify(jwt, services.clock())

    async def principal() -> object:
        return await authenticate_bearer(services, tokens, jwt)

    async def cached() -> object:
        return await authenticate(services, opaque)

    async def uncached() -> object:
        services.tokens = type(services.tokens)()
        return await authenticate(services, opaque)

    assert await principal() is not None and await cached() is not None
    return {
        "jwt first sight": first_sight,
        "jwt verify": verify,
        "jwt principal": principal,
        "opaque cached": cached,
        "opaque uncached": uncached,
    }


async def main(calls: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="pp-bench-tokens-") as home:
        data = Path(home)
        settings = Settings(data, f"sqlite:///{data / 'pp.db'}")
        migrate(settings)
        services = build_services(settings)
        summary = seed_demo(services, data)
        opaque = summary["user"]["token"]
        assert isinstance(opaque, str)
        measured = await cases(services, opaque)
        p50s: dict[str, list[float]] = {name: [] for name in measured}
        p99s: dict[str, list[float]] = {name: [] for name in measured}
        for index in range(rounds):
            line = []
            for name, call in measured.items():
                spent = await timed(call, calls)
                p50s[name].append(p(spent, 0.5))
                p99s[name].append(p(spent, 0.99))
                line.append(f"{name} {p50s[name][-1]:.1f}/{p99s[name][-1]:.1f}")
            print(f"round {index + 1}/{rounds} (p50/p99 us): " + ", ".join(line), flush=True)
        base = statistics.median(p50s["opaque cached"])
        print(f"\nmedians over {rounds} rounds of {calls} calls each (microseconds per call)")
        print(f"{'check':16} {'p50':>8} {'p99':>8} {'p50 / opaque cached':>20}")
        for name in measured:
            p50, p99 = statistics.median(p50s[name]), statistics.median(p99s[name])
            print(f"{name:16} {p50:8.1f} {p99:8.1f} {p50 / base:19.1f}x")
        await services.db.dispose()


class JwtBench:
    """The opaque bench's slots, each asked with the same driver's access token instead."""

    def __init__(self, bench: Bench, jwts: dict[str, str]) -> None:
        self.bench, self.jwts = bench, jwts

    def mutation_body(self) -> tuple[bytes, str]:
        body, opaque = self.bench.mutation_body()
        return body, self.jwts[opaque]


def mint(data_dir: Path, bench: Bench) -> dict[str, str]:
    """add_busy_site's i-th token belongs to driver bench-u{i}."""
    keys = load_or_create(data_dir / "keys" / "access-tokens.jwks.json")
    tokens = AccessTokens(keys, Settings.public_url)
    issued = datetime.now(UTC)
    return {
        opaque: tokens.issue(f"bench-u{i}", "bench", frozenset(scopes.ALL), issued)[0]
        for i, opaque in enumerate(bench.tokens)
    }


async def live(args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="pp-bench-jwt-"))
    print(f"data dir {data_dir}: migrate, seed-demo, bench site ...", flush=True)
    cli(data_dir, "migrate")
    cli(data_dir, "seed-demo", "--json")
    bench = add_bench_site(data_dir, 600, 64)
    server = Server(data_dir)
    try:
        await server.wait_healthy()  # it made its key set on start
        kinds = {"opaque": bench, "jwt": JwtBench(bench, mint(data_dir, bench))}
        conns = [await Connection.open(server.port) for _ in range(args.concurrency)]
        for kind, source in kinds.items():
            warm = await run_round("mutation", conns, source, 2.0)  # type: ignore[arg-type]
            if warm.failed:
                sys.exit(f"{kind} failed during warm-up: {warm.first_error}")
        rounds: dict[str, list[Round]] = {kind: [] for kind in kinds}
        for n in range(1, args.rounds + 1):
            order = list(kinds) if n % 2 else list(reversed(kinds))
            for kind in order:
                done = await run_round("mutation", conns, kinds[kind], args.seconds)  # type: ignore[arg-type]
                rounds[kind].append(done)
                print(
                    f"round {n}/{args.rounds} requestUsage {kind:6} {done.rate:6.0f} req/s  "
                    f"p50 {done.pct(0.5):6.2f} ms  p99 {done.pct(0.99):7.2f} ms  "
                    f"({done.done} ok, {done.failed} failed)",
                    flush=True,
                )
        print(f"\n{'requestUsage':14} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}   (medians)")
        rates = {}
        for kind, done_rounds in rounds.items():
            rates[kind] = statistics.median(r.rate for r in done_rounds)
            p50 = statistics.median(r.pct(0.5) for r in done_rounds)
            p99 = statistics.median(r.pct(0.99) for r in done_rounds)
            print(f"{kind:14} {rates[kind]:8.0f} {p50:8.2f} {p99:8.2f}")
        print(f"throughput jwt / opaque: {rates['jwt'] / rates['opaque']:.1%}")
        for conn in conns:
            await conn.close()
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--live", action="store_true", help="also requestUsage, live")
    parser.add_argument("--seconds", type=float, default=6.0, help="--live: per kind per round")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.rounds))
    if args.live:
        asyncio.run(live(args))
