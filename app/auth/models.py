"""The rows of app/store/oauth.py as authlib wants to see them (its Mixins)."""

from dataclasses import dataclass
from datetime import datetime

from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    ClientMixin,
    InvalidScopeError,
    TokenMixin,
)

from app.domain import scopes as scope_names
from app.services.clients import secret_matches
from app.store.oauth import ClientRow, CodeRow, RefreshRow

SECRET_METHODS = ("client_secret_basic", "client_secret_post")


class Client(ClientMixin):  # type: ignore[misc]
    def __init__(self, row: ClientRow) -> None:
        self.row = row
        self.client_id = row.client_id
        self.public = row.secret_hash is None

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.row.redirect_uris[0] if self.row.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        """What is asked for and the client holds (none asked: all it holds), in the
        canonical order; asking only for what it does not hold is an error."""
        held = set(self.row.scopes.split())
        if not scope:
            wanted = held
        else:
            wanted = held & set(scope.split())
            if not wanted:
                raise InvalidScopeError()
        return " ".join(s for s in scope_names.ALL if s in wanted)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.row.redirect_uris  # exact match (RFC 9700 §4.1.3)

    def check_client_secret(self, client_secret: str) -> bool:
        return secret_matches(self.row.secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.public:
            # A public client proves nothing but may still exchange its code (PKCE proves
            # it), refresh and revoke; it may not introspect.
            return method == "none" and endpoint != "introspection"
        return method in SECRET_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and bool(self.row.redirect_uris)

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "client_credentials":
            return not self.public
        if grant_type in ("authorization_code", "refresh_token"):
            return bool(self.row.redirect_uris)
        return False


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):  # type: ignore[misc]
    row: CodeRow

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope


@dataclass
class RefreshToken(TokenMixin):  # type: ignore[misc]
    row: RefreshRow
    now: datetime

    def check_client(self, client: ClientMixin) -> bool:
        return bool(client.get_client_id() == self.row.client_id)

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return int((self.row.expires_at - self.row.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.row.expires_at <= self.now

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None or self.row.rotated_at is not None

    def get_user(self) -> str:
        return self.row.user_id

    def get_client(self) -> ClientMixin:
        raise NotImplementedError  # nothing here asks


@dataclass
class AccessToken(TokenMixin):  # type: ignore[misc]
    """A verified JWT, for revocation and introspection."""

    sub: str
    client_id: str
    scope: str
    jti: str
    issued_at: datetime
    expires_at: datetime
    now: datetime
    withdrawn: bool

    def check_client(self, client: ClientMixin) -> bool:
        return bool(client.get_client_id() == self.client_id)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int((self.expires_at - self.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.expires_at <= self.now

    def is_revoked(self) -> bool:
        return self.withdrawn

    def get_user(self) -> str:
        return self.sub

    def get_client(self) -> ClientMixin:
        raise NotImplementedError
