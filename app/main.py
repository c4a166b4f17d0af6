"""Composition root: one ASGI app built from settings."""

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute

from app.auth.routes import build_access_tokens, oauth_routes, with_oauth
from app.auth.server import OAuthServer
from app.auth.sso import SsoConfig
from app.observability.request_ids import RequestIdMiddleware
from app.observability.routes import operator_routes
from app.schema import graphiql
from app.schema.http import GraphQLEndpoint
from app.services.container import Services, build_services
from app.services.sweeper import sweep_forever
from app.settings import Settings
from app.ui import sso
from app.ui.web import pages_app

log = logging.getLogger("powerpermit")


def create_app(settings: Settings | None = None, services: Services | None = None) -> Starlette:
    services = services or build_services(settings or Settings.from_env())
    # POWERPERMIT_ENV=production: no introspection, no GraphiQL (tests pass no settings).
    # OAuth2 (app/auth): access tokens signed with their own key set, verified on /graphql.
    access_tokens = build_access_tokens(settings)
    oauth = OAuthServer(services, access_tokens)
    graphql = GraphQLEndpoint(
        services, access_tokens, production=settings is not None and settings.production
    )
    pages = pages_app(services, settings.data_dir if settings else None)
    # Managers' single sign-on: routes and the sign-in page's button only when configured.
    sso_config = SsoConfig.from_settings(settings) if settings else None
    sso_routes = [Mount("/sso", sso.routes_app(sso_config, services))] if sso_config else []

    async def permit_keys(_: Request) -> Response:
        # A cached copy lags a key change by a minute at most; `keys add` a minute ahead of
        # `keys rotate` leaves no gap (docs/deploy.md, Key custody).
        return JSONResponse(services.signer.jwks(), headers={"Cache-Control": "max-age=60"})

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def home(_: Request) -> Response:
        return RedirectResponse("/graphql")

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Overdue requests expire and due permits are issued in the background, in bounded
        # batches, one process at a time (app/services/sweeper.py).
        sweeper = asyncio.create_task(sweep_forever(services))
        # Open subscriptions end within a second of their access (app/schema/open_sockets.py).
        sockets = asyncio.create_task(graphql.open_sockets.run())
        # The ~85,000 objects built at start-up (schema, types, the loaded libraries) live
        # as long as the process. Left to the collector, every full collection walked them
        # all and stalled the loop for tens of milliseconds: requestUsage p99 77 -> 27 ms.
        gc.collect()
        gc.freeze()
        try:
            async with services.running(), pages.lifespan():  # bus listener, outbox relay
                yield
        finally:
            sweeper.cancel()
            sockets.cancel()
            await services.db.dispose()

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/.well-known/permit-keys", permit_keys),
            Route("/healthz", health),
            *operator_routes(services),  # /readyz, /metrics
            Mount(graphiql.ASSETS_PATH, graphiql.assets()),  # /graphql's page, offline too
            Route("/", home),
            *oauth_routes(oauth),  # /oauth/*, /.well-known/oauth-*
            *sso_routes,  # /sso/login, /sso/callback
            # NiceGUI's pages (/manage, /app, /sign-in) and assets: after every route above,
            # so it never shadows /graphql (see DESIGN.md on mounting).
            Mount("/", with_oauth(sso.offering(pages) if sso_config else pages, oauth)),
        ],
        lifespan=lifespan,
        middleware=[Middleware(RequestIdMiddleware)],  # X-Request-ID, one access log line
    )
