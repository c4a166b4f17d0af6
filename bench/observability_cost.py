"""What the production instrumentation costs a request: the request-id middleware (with its
access log line) and the GraphQL metrics extension, on `{ __typename }`, the cheapest call.

Run: `.venv/bin/python bench/observability_cost.py [--requests 4000] [--rounds 5]`

In one process, over the ASGI interface (no sockets), CPU time per call with 16 in flight,
median over rounds, four variants of the same app in the same run: as served; without the
middleware; without the extension; without either. Access lines are written at INFO to a
JSON handler writing to /dev/null, as `powerpermit serve` would write them to stderr.
"""

import argparse
import asyncio
import logging
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from cost_breakdown import Asgi, cpu_per_call  # noqa: E402
from request_usage import TRIVIAL  # noqa: E402

CONCURRENCY = 16


def variants(services: Any) -> dict[str, Any]:
    """The same routes, with and without each piece."""
    from datetime import datetime

    from starlette.applications import Starlette
    from starlette.middleware import Middleware

    import app.schema as schema_module
    import app.schema.http as http
    from app.main import create_app
    from app.observability.graphql import OperationMetrics
    from app.observability.request_ids import RequestIdMiddleware

    served = schema_module.schema
    plain = schema_module.Schema(  # app/schema/__init__.py's schema, minus the extension
        query=schema_module.Query,
        mutation=schema_module.Mutation,
        subscription=schema_module.Subscription,
        scalar_overrides={datetime: schema_module.AwareDateTime},
        extensions=[e for e in served.extensions if e is not OperationMetrics],
    )

    def app(middleware: bool, schema: Any) -> Any:
        http.schema = schema  # GraphQLEndpoint reads the module's schema when it is built
        try:
            routes = create_app(services=services).router.routes
        finally:
            http.schema = served
        wrap = [Middleware(RequestIdMiddleware)] if middleware else []
        return Starlette(routes=routes, middleware=wrap)

    return {
        "as served": app(True, served),
        "no middleware": app(False, served),
        "no extension": app(True, plain),
        "neither": app(False, plain),
    }


async def measure(args: argparse.Namespace) -> dict[str, float]:
    from app.services.container import build_services
    from app.settings import Settings

    services = build_services(Settings.from_env())
    apps = {name: Asgi(app) for name, app in variants(services).items()}
    figures: dict[str, list[float]] = {name: [] for name in apps}

    def trivial(asgi: Asgi) -> Callable[[], Any]:
        async def call() -> None:
            assert b"Query" in await asgi.post(TRIVIAL, None)

        return call

    for asgi in apps.values():  # warm-up
        await cpu_per_call(trivial(asgi), 500, 1, CONCURRENCY)
    for n in range(args.rounds):  # interleaved, so drift on a shared machine hits all alike
        for name, asgi in apps.items():
            figures[name].append(await cpu_per_call(trivial(asgi), args.requests, 1, 16))
        print(f"  round {n + 1}/{args.rounds}", flush=True)
    await services.db.dispose()
    return {name: sorted(values)[len(values) // 2] for name, values in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from app.cli import migrate
    from app.observability.logs import configure
    from app.settings import Settings

    data_dir = Path(tempfile.mkdtemp(prefix="pp-bench-observability-"))
    try:
        import os

        os.environ["POWERPERMIT_DATA_DIR"] = str(data_dir)
        os.environ.pop("DATABASE_URL", None)
        os.environ.pop("REDIS_URL", None)
        migrate(Settings.from_env())
        configure("json")
        handler = logging.getLogger().handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the run
        figures = asyncio.run(measure(args))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    base = figures["neither"]
    print(f"\n{'{ __typename }':16} {'CPU µs/call':>12} {'over neither':>13}")
    for name, seconds in figures.items():
        print(f"{name:16} {seconds * 1e6:12.1f} {(seconds - base) * 1e6:+12.1f} µs")
    middleware = figures["as served"] - figures["no middleware"]
    extension = figures["as served"] - figures["no extension"]
    print(
        f"\nthe middleware with its access line: {middleware * 1e6:+.1f} µs per request; "
        f"the metrics extension: {extension * 1e6:+.1f} µs per operation "
        f"({(figures['as served'] / base - 1):+.1%} on the cheapest call)"
    )


if __name__ == "__main__":
    main()
