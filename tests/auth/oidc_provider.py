"""A small OpenID Connect provider for the single sign-on tests, on 127.0.0.1.

It auto-approves whoever the test says is signed in there (`identity`), and does what a
real provider does with the rest: the code is bound to the client, redirect URI, PKCE
challenge and nonce it was asked with, redeemed once, and only with the client's secret and
the matching code_verifier; the id_token is signed RS256 with a key from its JWKS.
`spoil` makes the next id_token wrong in one way, as a broken or hostile provider would.
Its metadata also offers the algorithm "none", as a careless provider's might: authlib
takes the algorithms from there, so the relying party must not.
"""

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.http.live import free_port

STARTUP_TIMEOUT_S = 10.0


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str
    claims: dict[str, Any]


@dataclass
class Provider:
    client_id: str
    client_secret: str
    port: int = field(default_factory=free_port)
    identity: dict[str, Any] = field(default_factory=dict)  # claims of who is signed in
    # signature | unsigned | nonce | audience | issuer | expired: the next id_token only
    spoil: str | None = None
    redeemed: int = 0  # codes exchanged at /token
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "k1"}))
    grants: dict[str, Grant] = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
            ]
        )

    async def discovery(self, _: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256", "none"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            }
        )

    async def jwks(self, _: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != self.client_id or q.get("response_type") != "code":
            return JSONResponse({"error": "unauthorized_client"}, status_code=400)
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return JSONResponse({"error": "invalid_request", "why": "PKCE S256"}, status_code=400)
        if not q.get("nonce") or not q.get("state") or "openid" not in q.get("scope", "").split():
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(
            self.client_id, q["redirect_uri"], q["code_challenge"], q["nonce"], dict(self.identity)
        )
        back = urlencode({"code": code, "state": q["state"]})
        return RedirectResponse(f"{q['redirect_uri']}?{back}", status_code=302)

    async def token(self, request: Request) -> Response:
        form = await request.form()
        grant = self.grants.pop(str(form.get("code")), None)  # once
        if not self._client_authenticated(request) or grant is None:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        verifier = str(form.get("code_verifier", ""))
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
            return JSONResponse({"error": "invalid_grant", "why": "PKCE"}, status_code=400)
        if form.get("redirect_uri") != grant.redirect_uri:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        self.redeemed += 1
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self._id_token(grant),
            }
        )

    def _client_authenticated(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        return client_id == self.client_id and secrets.compare_digest(secret, self.client_secret)

    def _id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            **grant.claims,
        }
        spoil, self.spoil = self.spoil, None
        if spoil == "nonce":
            claims["nonce"] = secrets.token_urlsafe(16)
        elif spoil == "audience":
            claims["aud"] = "some-other-client"
            claims["azp"] = grant.client_id  # authlib alone lets this one through
        elif spoil == "issuer":
            claims["iss"] = "http://127.0.0.1:1"
        elif spoil == "expired":
            claims["iat"], claims["exp"] = now - 3600, now - 1800
        token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
        if spoil == "unsigned":  # alg "none": anyone could have written it
            header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
            token = ".".join([header, token.split(".")[1], ""])
        if spoil == "signature":  # same header and signature, a claim changed underneath
            header, _payload, signature = token.split(".")
            forged = jwt.encode({"alg": "RS256", "kid": "k1"}, {**claims, "sub": "x"}, self.key)
            token = ".".join([header, forged.split(".")[1], signature])
        return token


class Running:
    """The provider served by uvicorn in a thread, until stop()."""

    def __init__(self, provider: Provider) -> None:
        config = uvicorn.Config(
            provider.app(), host="127.0.0.1", port=provider.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="oidc-provider", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the OpenID Connect provider did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
