"""Single sign-on for managers through an external OpenID Connect provider (authlib's client).

Off unless POWERPERMIT_OIDC_ISSUER is set. The flow is the authorization code flow with
state (against cross-site request forgery), nonce (against a replayed id_token) and PKCE
S256 (against a stolen code); authlib keeps all three in the browser's signed session
between the two legs. The id_token is checked here, not trusted from the provider's
metadata: its signature against the provider's JWKS, `iss` equal to the configured issuer,
`aud` naming our client id, `exp`, and the nonce.

Who gets in: the id_token's `email`, marked `email_verified`, must be exactly the login of
an existing manager account that manages at least one site and can sign in with a password
today (not disabled; an OAuth2 client's service account has no password and so never
qualifies). SSO creates no account: the provider's user list is everyone the organisation
knows, the site's managers are the few an administrator chose (`powerpermit user create`
and `grant`), and a provider account must not become a manager by merely existing.
"""

import logging
import warnings
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.common.errors import AuthlibBaseError
from joserfc.errors import JoseError
from sqlalchemy.engine import Connection
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.domain.model import Role, User
from app.services.accounts import new_token, store_token
from app.services.container import Services
from app.settings import Settings
from app.store import tables as t
from app.store.repositories import Sites, user_from_row

with warnings.catch_warnings():
    # authlib 1.9 warns at import that its httpx client falls back to httpx until httpx2 is
    # installed. It works on httpx, which the rest of the server and the tests use; the
    # warning only reached the JSON log as a stray line.
    warnings.filterwarnings("ignore", "The httpx module is deprecated", DeprecationWarning)
    from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App

log = logging.getLogger("powerpermit.sso")

CALLBACK_PATH = "/sso/callback"
SCOPE = "openid email"
LEEWAY_S = 60  # clock skew allowed between the provider and this server
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
# The id_token algorithms accepted, whatever the provider's metadata offers: signatures by
# the provider's published keys only (never "none", never a MAC keyed with our secret).
SIGNATURE_ALGS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
TOKEN_NAME = "sso"  # how the session's bearer token is named in api_tokens


class SsoConfigError(ValueError):
    """The OIDC settings cannot work; the server refuses to start rather than half-work."""


class Refusal(StrEnum):
    """Why a sign-in through the provider ended without a session."""

    UNVERIFIED = "unverified"  # state, code, signature, iss, aud, exp or nonce did not hold
    PROVIDER = "provider"  # the provider could not be reached or answered an error
    NO_EMAIL = "no-email"  # no verified email in the id_token
    UNKNOWN = "unknown"  # no account with that login
    NOT_MANAGER = "not-manager"  # a driver or an administrator
    DISABLED = "disabled"  # disabled, or an account that has no password sign-in
    NO_SITE = "no-site"  # a manager of no site: nothing to run here


class SsoRefused(Exception):
    def __init__(self, reason: Refusal, detail: str = "", email: str = "") -> None:
        super().__init__(f"{reason.value}: {detail or email}")
        self.reason = reason
        self.email = email  # the verified address, once known: the refusal page names it


@dataclass(frozen=True)
class SsoConfig:
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str

    @classmethod
    def from_settings(cls, settings: Settings) -> "SsoConfig | None":
        """None when single sign-on is off (no issuer)."""
        if not settings.oidc_issuer:
            return None
        if not settings.oidc_client_id or not settings.oidc_client_secret:
            raise SsoConfigError(
                "POWERPERMIT_OIDC_ISSUER is set: POWERPERMIT_OIDC_CLIENT_ID and "
                "POWERPERMIT_OIDC_CLIENT_SECRET are needed too"
            )
        issuer = settings.oidc_issuer.rstrip("/")
        parts = urlsplit(issuer)
        # The provider's keys are fetched from it: over plain HTTP anyone on the path could
        # hand us their own and sign in as any manager. Loopback is the tests' provider.
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
            raise SsoConfigError(f"POWERPERMIT_OIDC_ISSUER must be an https URL, not {issuer!r}")
        return cls(
            issuer,
            settings.oidc_client_id,
            settings.oidc_client_secret,
            settings.public_url.rstrip("/") + CALLBACK_PATH,
        )


class SingleSignOn:
    """The relying party: sends the browser to the provider, and checks what comes back.
    Needs `request.session` (a signed cookie session) on both legs."""

    def __init__(self, config: SsoConfig) -> None:
        self.config = config
        oauth = OAuth()
        self.provider: StarletteOAuth2App = oauth.register(
            "oidc",
            client_id=config.client_id,
            client_secret=config.client_secret,
            server_metadata_url=config.issuer + "/.well-known/openid-configuration",
            client_kwargs={"scope": SCOPE, "code_challenge_method": "S256", "timeout": 10.0},
        )

    async def start(self, request: Request) -> RedirectResponse:
        """To the provider's authorization endpoint; state, nonce and PKCE verifier stay in
        this browser's session."""
        try:
            await self._metadata()
            response: RedirectResponse = await self.provider.authorize_redirect(
                request, self.config.redirect_uri
            )
        except (httpx.HTTPError, ValueError, AuthlibBaseError) as error:
            log.warning("SSO provider unusable: %s", error)
            raise SsoRefused(Refusal.PROVIDER, str(error)) from error
        return response

    async def finish(self, request: Request) -> dict[str, Any]:
        """The verified id_token claims of the callback, or SsoRefused."""
        await self._metadata()
        try:
            token = await self.provider.authorize_access_token(
                request, claims_options=self._claims_options(), leeway=LEEWAY_S
            )
        except httpx.HTTPError as error:
            raise SsoRefused(Refusal.PROVIDER, str(error)) from error
        except (AuthlibBaseError, JoseError, ValueError, KeyError, TypeError) as error:
            # A wrong state, a refused code, a bad signature or claim: all the same to the
            # person (try again), told apart in the log.
            raise SsoRefused(Refusal.UNVERIFIED, repr(error)) from error
        claims = token.get("userinfo")  # what authlib verified; absent without an id_token
        if not claims:
            raise SsoRefused(Refusal.UNVERIFIED, "no id_token")
        return dict(claims)

    async def _metadata(self) -> None:
        """The discovery document, checked once: its issuer must be the configured one
        (OpenID Connect Discovery 1.0, 4.3), or its keys and endpoints are someone else's."""
        try:
            metadata = await self.provider.load_server_metadata()
        except (httpx.HTTPError, ValueError) as error:
            raise SsoRefused(Refusal.PROVIDER, str(error)) from error
        if metadata.get("issuer", "").rstrip("/") != self.config.issuer:
            self.provider.server_metadata.clear()  # fetched again next time
            raise SsoRefused(Refusal.PROVIDER, f"discovery names issuer {metadata.get('issuer')!r}")
        # authlib takes the algorithms from here (RS256 when absent).
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        metadata["id_token_signing_alg_values_supported"] = [
            alg for alg in offered if alg in SIGNATURE_ALGS
        ] or ["RS256"]

    def _claims_options(self) -> dict[str, Any]:
        # authlib checks `iss` against the metadata and `aud` only through `azp`: both are
        # pinned here to what this server was configured with. Fresh dicts: authlib pops
        # from them.
        return {
            "iss": {"essential": True, "value": self.config.issuer},
            "aud": {"essential": True, "value": self.config.client_id},
            "exp": {"essential": True},
        }


def email_of(claims: dict[str, Any]) -> str:
    email = claims.get("email")
    if not isinstance(email, str) or not email or claims.get("email_verified") is not True:
        raise SsoRefused(Refusal.NO_EMAIL)
    return email


async def manager_for(services: Services, claims: dict[str, Any]) -> User:
    """The existing manager account these verified claims name, or SsoRefused."""
    email = email_of(claims)

    def work(conn: Connection) -> User:
        row = conn.execute(t.users.select().where(t.users.c.login == email)).mappings().first()
        if row is None:
            raise SsoRefused(Refusal.UNKNOWN, email=email)
        user = user_from_row(row)
        if user.role is not Role.MANAGER:
            raise SsoRefused(Refusal.NOT_MANAGER, email=email)
        # No password: an OAuth2 client's service account, never a person.
        if row["disabled_at"] is not None or row["password_hash"] is None:
            raise SsoRefused(Refusal.DISABLED, email=email)
        if not Sites(conn).managed_by(user.id):
            raise SsoRefused(Refusal.NO_SITE, email=email)
        return user

    return await services.db.read(work)


async def issue_session_token(services: Services, user: User) -> str:
    """A bearer token like a password sign-in's (`accounts.login`): the page session keeps
    it, and disabling the user or signing out ends it the same way."""
    token, now = new_token(), services.clock()
    await services.db.write(lambda conn: store_token(conn, user.id, token, TOKEN_NAME, now))
    return token
