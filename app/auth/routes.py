"""The OAuth2 endpoints over HTTP: /oauth/token, /oauth/revoke, /oauth/introspect,
/oauth/authorize, and the metadata (RFC 8414) and key set documents under /.well-known.

Each reads its whole (small, bounded) form on the event loop, then hands it to authlib
(app/auth/server.py). Token answers are JSON with Cache-Control: no-store (RFC 6749 §5.1).
"""

from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth import consent
from app.auth.access_tokens import ALGORITHM, AccessTokens, load_or_create, new_key_set
from app.auth.models import SECRET_METHODS
from app.auth.server import OAuthServer, Request
from app.domain import scopes as scope_names
from app.services.errors import RateLimited
from app.services.rate_limits import retry_after_seconds
from app.settings import Settings

MAX_FORM_BYTES = 8192  # a token request is a few hundred bytes
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
FORM = "application/x-www-form-urlencoded"


def oauth_routes(server: OAuthServer) -> list[Route]:
    issuer = server.access_tokens.issuer

    async def read_form(request: HttpRequest) -> list[tuple[str, str]] | Response:
        if request.headers.get("content-type", "").split(";")[0].strip() != FORM:
            return _error(400, "invalid_request", f"the body must be {FORM}")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return _error(413, "invalid_request", "the body is too large")
        try:
            return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            return _error(400, "invalid_request", "the body is not UTF-8")

    def oauth_request(request: HttpRequest, form: list[tuple[str, str]]) -> Request:
        query = list(request.query_params.multi_items())
        return Request("POST", issuer + request.url.path, request.headers, query, form)

    async def token(request: HttpRequest) -> Response:
        """Limited per address here, and per client once the client has proved who it is
        (OAuthServer.send_signal): naming another client must not spend its allowance."""
        form = await read_form(request)
        if isinstance(form, Response):
            return form
        oauth = oauth_request(request, form)
        try:
            rule = server.services.limits.rules.token_per_address
            server.services.limits.check(f"token:address:{_address(request)}", rule)
            return _json(await server.run(lambda: server.create_token_response(oauth)))
        except RateLimited as refused:
            headers = {**NO_STORE, "Retry-After": str(retry_after_seconds(refused))}
            body = {"error": "rate_limited", "error_description": str(refused)}
            return JSONResponse(body, status_code=429, headers=headers)

    def endpoint(name: str) -> Any:
        async def handle(request: HttpRequest) -> Response:
            form = await read_form(request)
            if isinstance(form, Response):
                return form
            oauth = oauth_request(request, form)
            return _json(await server.run(lambda: server.create_endpoint_response(name, oauth)))

        return handle

    async def authorize(request: HttpRequest) -> Response:
        answer = await consent.start(server, list(request.query_params.multi_items()))
        if answer.location is not None:
            return RedirectResponse(answer.location, status_code=answer.status)
        return JSONResponse(answer.body or {}, status_code=answer.status, headers=NO_STORE)

    async def metadata(_: HttpRequest) -> Response:
        return JSONResponse(server_metadata(issuer), headers={"Cache-Control": "max-age=300"})

    async def jwks(_: HttpRequest) -> Response:
        return JSONResponse(server.access_tokens.jwks(), headers={"Cache-Control": "max-age=60"})

    return [
        Route("/oauth/token", token, methods=["POST"]),
        Route("/oauth/revoke", endpoint("revocation"), methods=["POST"]),
        Route("/oauth/introspect", endpoint("introspection"), methods=["POST"]),
        Route("/oauth/authorize", authorize, methods=["GET"]),
        Route("/.well-known/oauth-authorization-server", metadata, methods=["GET"]),
        Route("/.well-known/oauth-jwks.json", jwks, methods=["GET"]),
    ]


def with_oauth(app: ASGIApp, server: OAuthServer) -> ASGIApp:
    """The pages, told which OAuth2 server the consent page answers for. The consent page
    may not be framed: a page that framed it could trick a click on Allow."""

    async def pages(scope: Scope, receive: Receive, send: Send) -> None:
        scope[consent.SCOPE_KEY] = server
        if scope["type"] != "http" or scope["path"] != consent.CONSENT_PAGE:
            await app(scope, receive, send)
            return

        async def unframed(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *NOT_FRAMED]
            await send(message)

        await app(scope, receive, unframed)

    return pages


NOT_FRAMED = [
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
]


def build_access_tokens(settings: Settings | None) -> AccessTokens:
    """The key set from the data directory; an app built from given services (tests) gets
    a key set of its own that lives as long as the process."""
    if settings is None:
        return AccessTokens(new_key_set(), Settings.public_url)
    return AccessTokens(load_or_create(settings.access_token_keys_path), settings.public_url)


def server_metadata(issuer: str) -> dict[str, Any]:
    """RFC 8414 §2."""
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "jwks_uri": f"{issuer}/.well-known/oauth-jwks.json",
        "scopes_supported": list(scope_names.ALL),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": [*SECRET_METHODS, "none"],
        "revocation_endpoint_auth_methods_supported": [*SECRET_METHODS, "none"],
        "introspection_endpoint_auth_methods_supported": list(SECRET_METHODS),
        "access_token_signing_alg_values_supported": [ALGORITHM],  # not in 8414; informative
    }


def _json(result: tuple[int, Any, list[tuple[str, str]]]) -> Response:
    status, body, headers = result
    extra = {k: v for k, v in headers if k.lower() not in ("content-type", "cache-control")}
    return JSONResponse(body, status_code=status, headers={**extra, **NO_STORE})


def _error(status: int, error: str, description: str) -> Response:
    body = {"error": error, "error_description": description}
    return JSONResponse(body, status_code=status, headers=NO_STORE)


def _address(request: HttpRequest) -> str:
    return request.client.host if request.client else "unknown"
