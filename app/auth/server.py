"""PowerPermit as an OAuth2 authorization server, built on authlib's.

authlib's grants and endpoints are synchronous and ask the store as they go (the client,
the code, the refresh token). They run in a worker thread, and each question they ask
goes back to the event loop as one ordinary transaction (`services.db.read`/`write`), so
SQLite keeps its one writer and PostgreSQL its async engine. The HTTP side
(app/auth/routes.py) reads the whole form first and answers with what this returns.

Grants: client credentials (secret in Basic or in the form), authorization code with PKCE
S256 required (plain refused), refresh token with rotation: each refresh token is used
once; presenting a used one again revokes every token rotated from the same grant.
"""

import asyncio
import secrets
from collections import defaultdict
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any, TypeVar

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
)
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from sqlalchemy.engine import Connection

from app.auth.access_tokens import AccessTokens, RefusedToken, looks_like_jwt
from app.auth.models import SECRET_METHODS, AccessToken, AuthorizationCode, Client, RefreshToken
from app.domain import scopes as scope_names
from app.domain.model import User
from app.services.accounts import hash_token
from app.services.container import Services
from app.services.withdrawals import withdraw
from app.store import oauth as store

T = TypeVar("T")
CODE_LIFETIME = timedelta(minutes=10)  # RFC 6749 §4.1.2 recommends at most 10 minutes
REFRESH_LIFETIME = timedelta(days=30)


class FormPayload(OAuth2Payload):  # type: ignore[misc]
    """Parameters already read from the query string and the form, every value kept, so
    authlib's "parameter given twice" checks see the repeats."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in items:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class Request(OAuth2Request):  # type: ignore[misc]
    def __init__(
        self,
        method: str,
        uri: str,
        headers: Any,
        query: list[tuple[str, str]],
        form: list[tuple[str, str]],
    ) -> None:
        super().__init__(method, uri, headers=headers)
        self._args = dict(query)
        self._form = dict(form)
        self.payload = FormPayload(form if method == "POST" else query)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class OAuthServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, services: Services, access_tokens: AccessTokens) -> None:
        super().__init__(scopes_supported=list(scope_names.ALL))
        self.services = services
        self.access_tokens = access_tokens
        self.loop: asyncio.AbstractEventLoop | None = None
        self.register_token_generator("default", self._generate_token)
        self.register_grant(ClientCredentials)
        self.register_grant(AuthorizationCodeS256, [S256Only()])
        self.register_grant(RotatingRefresh)
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)

    # -- from the event loop --------------------------------------------------------------

    async def run(self, call: Callable[[], T]) -> T:
        """authlib's synchronous work, in a worker thread (see the module docstring)."""
        self.loop = asyncio.get_running_loop()
        return await asyncio.to_thread(call)

    # -- from the worker thread -----------------------------------------------------------

    def wait(self, coroutine: Coroutine[Any, Any, T]) -> T:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def read(self, work: Callable[[Connection], T]) -> T:
        return self.wait(self.services.db.read(work))

    def write(self, work: Callable[[Connection], T]) -> T:
        return self.wait(self.services.db.write(work))

    def now(self) -> datetime:
        return self.services.clock()

    def query_client(self, client_id: str) -> Client | None:
        row = self.read(lambda conn: store.client(conn, client_id))
        return Client(row) if row is not None and row.revoked_at is None else None

    def active_user(self, user_id: str) -> User | None:
        return self.read(lambda conn: store.active_user(conn, user_id))

    def _generate_token(
        self,
        grant_type: str,
        client: Client,
        user: User | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        # A client-credentials token acts as the client's service account.
        sub = user.id if user is not None else client.row.service_user_id
        granted = client.get_allowed_scope(scope)
        token, claims = self.access_tokens.issue(sub, client.client_id, granted, self.now())
        answer: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": token,
            "expires_in": int((claims.expires_at - claims.issued_at).total_seconds()),
            "scope": granted,
        }
        if include_refresh_token and user is not None:
            answer["refresh_token"] = "pprt_" + secrets.token_urlsafe(32)
        return answer

    def save_token(self, token: dict[str, Any], request: Request) -> None:
        """Only refresh tokens are stored (access tokens are self-contained JWTs)."""
        refresh = token.get("refresh_token")
        if refresh is None:
            return
        previous = request.refresh_token
        family = previous.row.family_id if isinstance(previous, RefreshToken) else None
        now = self.now()
        row = store.RefreshRow(
            token_hash=hash_token(refresh),
            family_id=family or secrets.token_hex(16),
            client_id=request.client.client_id,
            user_id=request.user.id,
            scope=token["scope"],
            issued_at=now,
            expires_at=now + REFRESH_LIFETIME,
            rotated_at=None,
            revoked_at=None,
        )
        self.write(lambda conn: store.add_refresh(conn, row))

    def query_token(self, token: str, now: datetime) -> AccessToken | RefreshToken | None:
        """A token this server issued, valid or not (revocation and introspection)."""
        if looks_like_jwt(token):
            try:
                claims = self.access_tokens.verify(token, now)
            except RefusedToken:
                return None
            withdrawn = self.services.withdrawals.refuses(
                claims.sub, claims.client_id, claims.jti, claims.issued_at
            )
            scope = " ".join(sorted(claims.scopes))
            return AccessToken(
                claims.sub,
                claims.client_id,
                scope,
                claims.jti,
                claims.issued_at,
                claims.expires_at,
                now,
                withdrawn,
            )
        row = self.read(lambda conn: store.refresh(conn, hash_token(token)))
        return RefreshToken(row, now) if row is not None else None

    def create_oauth2_request(self, request: Request) -> Request:
        return request

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError  # no endpoint here takes JSON

    def handle_response(
        self, status: int, body: Any, headers: list[tuple[str, str]]
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """A client proved itself at the token endpoint: it is charged to its own limit
        (on the loop, which owns the limiter). RateLimited leaves authlib unanswered and
        is answered 429 by app/auth/routes.py."""
        if name == "after_authenticate_client" and kwargs.get("grant") is not None:
            client_id = kwargs["client"].client_id
            self.wait(self._charge(client_id))

    async def _charge(self, client_id: str) -> None:
        rule = self.services.limits.rules.token_per_client
        self.services.limits.check(f"token:client:{client_id}", rule)


class ClientCredentials(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = list(SECRET_METHODS)


class S256Only(CodeChallenge):  # type: ignore[misc]
    """PKCE is required, and only with S256: `plain` would hand the verifier to anyone who
    saw the authorization request."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("'code_challenge' (PKCE, S256) is required")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code: AuthorizationCode) -> str:
        return authorization_code.row.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code: AuthorizationCode) -> str:
        return authorization_code.row.code_challenge_method


class AuthorizationCodeS256(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = [*SECRET_METHODS, "none"]
    server: OAuthServer

    def save_authorization_code(self, code: str, request: Request) -> None:
        data = request.payload.data
        row = store.CodeRow(
            client_id=request.client.client_id,
            user_id=request.user.id,
            redirect_uri=data.get("redirect_uri") or "",
            scope=request.client.get_allowed_scope(data.get("scope")),
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
            expires_at=self.server.now() + CODE_LIFETIME,
        )
        code_hash, now = hash_token(code), self.server.now()

        def work(conn: Connection) -> None:
            store.prune_codes(conn, now)  # codes never exchanged: few, and gone here
            store.add_code(conn, code_hash, row)

        self.server.write(work)

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        """Consumed as it is read: a code works once, even when two requests race."""
        now, code_hash = self.server.now(), hash_token(code)
        client_id = client.client_id
        row = self.server.write(lambda conn: store.take_code(conn, code_hash, client_id, now))
        return AuthorizationCode(row) if row is not None else None

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        pass  # query_authorization_code consumed it

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User | None:
        return self.server.active_user(authorization_code.row.user_id)


class RotatingRefresh(RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = [*SECRET_METHODS, "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: OAuthServer

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        """The token if unused. A used one presented again means it leaked: its whole
        family is revoked."""
        now, token_hash = self.server.now(), hash_token(refresh_token)

        def work(conn: Connection) -> store.RefreshRow | None:
            row = store.refresh(conn, token_hash)
            if row is None or row.revoked_at is not None or row.expires_at <= now:
                return None
            if row.rotated_at is not None:
                store.revoke_family(conn, row.family_id, now)
                return None
            return row

        row = self.server.write(work)
        return RefreshToken(row, now) if row is not None else None

    def authenticate_user(self, refresh_token: RefreshToken) -> User | None:
        return self.server.active_user(refresh_token.row.user_id)

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        """Marked used once the request proved sound (a refused scope spends nothing). Two
        requests racing with one token both got this far: the one that loses treats it as
        reuse, which also ends the token just issued to the winner."""
        now, row = self.server.now(), refresh_token.row

        def work(conn: Connection) -> None:
            if not store.rotate(conn, row.token_hash, now):
                store.revoke_family(conn, row.family_id, now)

        self.server.write(work)


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009. An access token's jti is withdrawn until it expires (refused within a
    second everywhere); a refresh token ends with its whole family, the grant it holds."""

    CLIENT_AUTH_METHODS = [*SECRET_METHODS, "none"]
    server: OAuthServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return self.server.query_token(token_string, self.server.now())

    def revoke_token(self, token: AccessToken | RefreshToken, request: Request) -> None:
        server = self.server
        if isinstance(token, AccessToken):
            server.wait(withdraw(server.services, "token", token.jti, token.expires_at))
            return
        now, family = server.now(), token.row.family_id
        server.write(lambda conn: store.revoke_family(conn, family, now))


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662, for confidential clients about their own tokens; anything else (unknown,
    expired, revoked, rotated, another client's) is only `{"active": false}`."""

    CLIENT_AUTH_METHODS = list(SECRET_METHODS)
    server: OAuthServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return self.server.query_token(token_string, self.server.now())

    def check_permission(self, token: Any, client: Client, request: Request) -> bool:
        return bool(token.check_client(client))

    def introspect_token(self, token: AccessToken | RefreshToken) -> dict[str, Any]:
        if isinstance(token, AccessToken):
            return {
                "active": True,
                "token_type": "Bearer",
                "scope": token.scope,
                "client_id": token.client_id,
                "sub": token.sub,
                "iss": self.server.access_tokens.issuer,
                "aud": self.server.access_tokens.audience,
                "iat": int(token.issued_at.timestamp()),
                "exp": int(token.expires_at.timestamp()),
                "jti": token.jti,
            }
        row = token.row
        return {
            "active": True,
            "token_type": "refresh_token",
            "scope": row.scope,
            "client_id": row.client_id,
            "sub": row.user_id,
            "iat": int(row.issued_at.timestamp()),
            "exp": int(row.expires_at.timestamp()),
        }
