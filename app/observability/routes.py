"""The operator's endpoints: /readyz (may this process take traffic?) and /metrics."""

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.observability.metrics import CONTENT_TYPE
from app.observability.readiness import Readiness
from app.services.container import Services
from app.services.outbox import event_lag_seconds, outbox_backlog


def operator_routes(services: Services) -> list[Route]:
    readiness = Readiness(services)

    async def read_outbox() -> None:
        services.metrics.outbox_backlog.set(await outbox_backlog(services))
        services.metrics.event_lag.set(await event_lag_seconds(services))

    services.metrics.refresh_on_scrape(read_outbox)

    async def ready(_: Request) -> Response:
        checks = await readiness.check()
        failed = sorted(name for name, verdict in checks.items() if verdict != "ok")
        body = {"status": "not ready" if failed else "ready", "failed": failed, "checks": checks}
        return JSONResponse(body, status_code=503 if failed else 200)

    async def metrics(_: Request) -> Response:
        return Response(await services.metrics.exposition(), media_type=CONTENT_TYPE)

    return [Route("/readyz", ready), Route("/metrics", metrics)]
