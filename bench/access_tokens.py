"""What checking a bearer token costs per API call: an OAuth2 access token (JWT, EdDSA)
beside an opaque login token, cached and uncached.

Run: `.venv/bin/python bench/access_tokens.py [--calls 20000] [--rounds 5]`.

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
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.auth.access_tokens import AccessTokens, new_key_set  # noqa: E402
from app.auth.bearer import authenticate_bearer  # noqa: E402
from app.cli import migrate  # noqa: E402
from app.services import clients  # noqa: E402
from app.services.accounts import authenticate  # noqa: E402
from app.services.container import Services, build_services  # noqa: E402
from app.services.demo import seed_demo  # noqa: E402
from app.settings import Settings  # noqa: E402

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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.rounds))
