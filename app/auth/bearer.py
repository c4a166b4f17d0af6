"""Who a bearer token names: an opaque login token (pp_...) or an OAuth2 access token (JWT).

An access token becomes the User its `sub` names, narrowed to the token's scopes and marked
with its client; the role still comes from the store, so a driver's token never decides
anything. It is refused when the signature, algorithm, issuer, audience or expiry is
wrong, when its jti, user or client was withdrawn (app/services/withdrawals.py, within a
second in every process), or when the user is gone or disabled.

The user is remembered in the token cache under its id for the cache's TTL, as opaque
tokens are: a withdrawn user is forgotten in every process as the withdrawal arrives.
"""

from dataclasses import replace

from app.auth.access_tokens import AccessTokens, RefusedToken, looks_like_jwt
from app.domain.model import User
from app.services.accounts import authenticate
from app.services.container import Services
from app.store import oauth as store

_CACHE_PREFIX = "sub:"  # the token cache's keys are token hashes (hex); this cannot clash


async def authenticate_bearer(
    services: Services, access_tokens: AccessTokens, token: str | None
) -> User | None:
    """None for no token or an unknown opaque one; RefusedToken for a JWT that fails."""
    if not token or not looks_like_jwt(token):
        return await authenticate(services, token)
    claims = access_tokens.verify(token, services.clock())
    if services.withdrawals.refuses(claims.sub, claims.client_id, claims.jti, claims.issued_at):
        raise RefusedToken("withdrawn")
    key = _CACHE_PREFIX + claims.sub
    user = services.tokens.get(key)
    if user is None:
        user = await services.db.read(lambda conn: store.active_user(conn, claims.sub))
        if user is None:
            raise RefusedToken("no such user, or disabled")
        services.tokens.put(key, user)
    return replace(user, scopes=claims.scopes, client_id=claims.client_id)
