"""The authorization endpoint's two halves, with the consent page between them.

GET /oauth/authorize checks the request with authlib (client, redirect URI, response type,
scopes, PKCE S256) and, if it is sound, sends the browser to the consent page carrying the
request as a short-lived signed ticket: no server-side state, so any server process can
show the page and take the answer, and the sign-in page can bring the person back to it
(its link holds only URL-safe characters). The page shows who asks for what; Allow or
Deny goes back through authlib, which makes the code (or access_denied) and the redirect.
"""

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from authlib.oauth2 import OAuth2Error
from joserfc import jwt
from joserfc.errors import JoseError

from app.auth.access_tokens import ALGORITHM, REGISTRY
from app.auth.server import OAuthServer, Request
from app.domain.model import User

CONSENT_PAGE = "/app/consent"
SCOPE_KEY = "powerpermit.oauth"  # the ASGI scope's key the consent page finds the server by
TICKET_TYPE = "oauth-consent+jwt"
TICKET_LIFETIME = timedelta(minutes=10)


class BadTicket(Exception):
    """The consent page's ticket is forged, expired or not one: start again at the app."""


@dataclass(frozen=True)
class Pending:
    client_id: str
    client_name: str
    site_id: str
    scopes: tuple[str, ...]
    redirect_host: str


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: a redirect (location) or an error body with its status."""

    status: int
    location: str | None = None
    body: dict[str, Any] | None = None


def _request(server: OAuthServer, params: list[tuple[str, str]]) -> Request:
    uri = f"{server.access_tokens.issuer}/oauth/authorize?{urlencode(params)}"
    return Request("GET", uri, {}, params, [])


def _answer(result: tuple[int, Any, list[tuple[str, str]]]) -> Answer:
    status, body, headers = result
    location = dict(headers).get("Location")
    return Answer(status, location, body if isinstance(body, dict) else None)


async def start(server: OAuthServer, params: list[tuple[str, str]]) -> Answer:
    """The authorization request checked: to the consent page, or the error (to the
    client's redirect URI when that is known to be the client's, else to the browser)."""

    def check() -> Answer:
        request = _request(server, params)
        try:
            server.get_consent_grant(request)
        except OAuth2Error as error:
            return _answer(server.handle_error_response(request, error))
        return Answer(303, f"{CONSENT_PAGE}?ticket={_ticket(server, params)}")

    return await server.run(check)


def _ticket(server: OAuthServer, params: list[tuple[str, str]]) -> str:
    now = int(server.now().timestamp())
    claims = {
        "iss": server.access_tokens.issuer,
        "aud": server.access_tokens.issuer + CONSENT_PAGE,
        "iat": now,
        "exp": now + int(TICKET_LIFETIME.total_seconds()),
        "jti": secrets.token_urlsafe(8),
        "params": params,
    }
    header = {"alg": ALGORITHM, "kid": server.access_tokens.keys.keys[0].kid, "typ": TICKET_TYPE}
    return jwt.encode(header, claims, server.access_tokens.keys.keys[0], registry=REGISTRY)


def _params(server: OAuthServer, ticket: str) -> list[tuple[str, str]]:
    try:
        decoded = jwt.decode(ticket, server.access_tokens.keys, registry=REGISTRY)
    except (JoseError, ValueError) as err:
        raise BadTicket(str(err)) from None
    claims = decoded.claims
    if (
        decoded.header.get("typ") != TICKET_TYPE
        or claims.get("aud") != server.access_tokens.issuer + CONSENT_PAGE
        or not isinstance(claims.get("exp"), int)
        or claims["exp"] <= server.now().timestamp()
        or not isinstance(claims.get("params"), list)
    ):
        raise BadTicket("not a current consent ticket")
    return [(str(key), str(value)) for key, value in claims["params"]]


async def pending(server: OAuthServer, ticket: str) -> Pending:
    """What the page shows: which client, for which site, asks for which scopes."""
    params = _params(server, ticket)

    def look() -> Pending:
        request = _request(server, params)
        try:
            grant = server.get_consent_grant(request)
        except OAuth2Error as error:  # the client was revoked meanwhile, say
            raise BadTicket(error.error) from None
        client = grant.client
        scope = client.get_allowed_scope(request.payload.scope)
        redirect = grant.redirect_uri or client.get_default_redirect_uri() or ""
        host = urlsplit(redirect).netloc
        return Pending(
            client.client_id, client.row.name, client.row.site_id, tuple(scope.split()), host
        )

    return await server.run(look)


async def decide(server: OAuthServer, ticket: str, user: User | None) -> str:
    """Allow (user) or Deny (None): where the browser goes next, the client's redirect URI
    with `code` and `state`, or with `error=access_denied`."""
    params = _params(server, ticket)

    def answer() -> str:
        request = _request(server, params)
        try:
            grant = server.get_consent_grant(request, end_user=user)
        except OAuth2Error as error:
            raise BadTicket(error.error) from None
        result = _answer(server.create_authorization_response(request, user, grant))
        if result.location is None:
            raise BadTicket("no redirect")
        return result.location

    return await server.run(answer)
