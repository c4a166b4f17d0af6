"""OAuth2 access tokens: JWTs (RFC 9068) signed with Ed25519, checked on every API call.

The key set is its own file, apart from the permit-signing keys (a leaked access-token key
must not let anyone mint permits, and the reverse). It is created on first start, mode
0600, and put in place with a hard link, which fails if another process on this host won
the race: then both read the winner's file, so every process signs and verifies alike.

Verification allows one algorithm (EdDSA): `alg: none`, HS256 with the public key as the
HMAC secret, and every other algorithm are refused before any signature is checked; the
`typ` must be at+jwt, so no other JWT this server signs passes for an access token.
"""

import contextlib
import json
import os
import secrets
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError, UnsupportedAlgorithmError
from joserfc.jwk import KeySet, OKPKey
from joserfc.jws import JWSRegistry

from app.services.withdrawals import LONGEST_ACCESS_TOKEN

VERIFIED_MAX = 10_000  # tokens remembered as verified (~1 KB each)
# A withdrawal is kept as long as the longest access token it may have to refuse.
LIFETIME = LONGEST_ACCESS_TOKEN
ALGORITHM = "EdDSA"
TOKEN_TYPE = "at+jwt"  # RFC 9068 §2.1


class RefusedToken(Exception):
    """Not a valid access token of this server; the reason is for logs, never for clients."""


class _EdDSAOnly(JWSRegistry):
    """The one algorithm, without joserfc's warning that RFC 9864 names EdDSA ambiguous:
    the key set holds only Ed25519 keys, so here it means exactly Ed25519."""

    def get_alg(self, name: str) -> Any:
        if name != ALGORITHM:
            raise UnsupportedAlgorithmError(f"Algorithm of {name!r} is not allowed")
        return self.algorithms[name]


REGISTRY = _EdDSAOnly(algorithms=[ALGORITHM])


@dataclass(frozen=True)
class AccessClaims:
    sub: str  # a user id: the person who consented, or the client's service account
    client_id: str
    scopes: frozenset[str]
    jti: str
    issued_at: datetime
    expires_at: datetime


class AccessTokens:
    """Issues and verifies access tokens for one issuer (the server's public URL)."""

    def __init__(self, keys: KeySet, issuer: str) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = issuer + "/graphql"
        self._signing = keys.keys[0]
        # A client presents the same token on every call until it expires: its signature
        # (~80 us with joserfc) is checked once; afterwards only its expiry (bench figures
        # in docs: bench/access_tokens.py). Keyed by the whole token text, so a token that
        # differs in one byte is verified afresh. Withdrawals are checked on every call.
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()

    def jwks(self) -> dict[str, Any]:
        """The public keys, for /.well-known/oauth-jwks.json."""
        return dict(self.keys.as_dict(private=False))

    def issue(
        self, sub: str, client_id: str, scopes: frozenset[str] | str, now: datetime
    ) -> tuple[str, AccessClaims]:
        scope = scopes if isinstance(scopes, str) else " ".join(sorted(scopes))
        issued = now.replace(microsecond=0)
        claims = AccessClaims(
            sub,
            client_id,
            frozenset(scope.split()),
            secrets.token_urlsafe(16),
            issued,
            issued + LIFETIME,
        )
        payload = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": sub,
            "client_id": client_id,
            "scope": scope,
            "jti": claims.jti,
            "iat": int(issued.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
        }
        header = {"alg": ALGORITHM, "kid": self._signing.kid, "typ": TOKEN_TYPE}
        return jwt.encode(header, payload, self._signing, registry=REGISTRY), claims

    def verify(self, token: str, now: datetime) -> AccessClaims:
        """The token's claims, or RefusedToken. Withdrawals are the caller's to check
        (app/auth/bearer.py): this answers from the token alone."""
        known = self._verified.get(token)
        if known is not None:
            if known.expires_at <= now:
                del self._verified[token]
                raise RefusedToken("expired")
            return known
        claims = self._verify(token, now)
        self._verified[token] = claims
        while len(self._verified) > VERIFIED_MAX:
            self._verified.popitem(last=False)  # the oldest verified: it expires first
        return claims

    def _verify(self, token: str, now: datetime) -> AccessClaims:
        try:
            decoded = jwt.decode(token, self.keys, registry=REGISTRY)
        except (JoseError, ValueError) as err:  # ValueError: not even base64 or JSON
            raise RefusedToken(f"{type(err).__name__}: {err}") from None
        if decoded.header.get("typ") != TOKEN_TYPE:
            raise RefusedToken("not an access token (typ)")
        claims = decoded.claims
        when = int(now.timestamp())
        strings = ("iss", "aud", "sub", "client_id", "scope", "jti")
        if not all(isinstance(claims.get(name), str) for name in strings):
            raise RefusedToken("a claim is missing")
        if not all(type(claims.get(name)) is int for name in ("iat", "exp")):
            raise RefusedToken("iat or exp is missing")
        if claims["iss"] != self.issuer:
            raise RefusedToken("wrong issuer")
        if claims["aud"] != self.audience:
            raise RefusedToken("wrong audience")
        if claims["exp"] <= when:
            raise RefusedToken("expired")
        if claims["iat"] > when + 60:  # clocks of several processes differ a little
            raise RefusedToken("issued in the future")
        return AccessClaims(
            claims["sub"],
            claims["client_id"],
            frozenset(claims["scope"].split()),
            claims["jti"],
            datetime.fromtimestamp(claims["iat"], UTC),
            datetime.fromtimestamp(claims["exp"], UTC),
        )


def looks_like_jwt(token: str) -> bool:
    """Three dot-separated parts; the opaque login tokens (pp_...) contain no dot."""
    return token.count(".") == 2


def new_key_set() -> KeySet:
    return KeySet([OKPKey.generate_key("Ed25519", parameters={"kid": secrets.token_hex(4)})])


def load_or_create(path: Path) -> KeySet:
    """The key set at `path`, created (0600) if none exists yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".access-tokens-")
        try:
            with os.fdopen(fd, "w") as handle:  # mkstemp made it 0600
                json.dump(new_key_set().as_dict(private=True), handle)
            with contextlib.suppress(FileExistsError):  # another process put its file first
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    if path.stat().st_mode & 0o077:
        raise PermissionError(f"{path} is open to other users; run `chmod 600 {path}`")
    keys = KeySet.import_key_set(json.loads(path.read_text()))
    if not keys.keys or any(not isinstance(key, OKPKey) for key in keys.keys):
        raise ValueError(f"{path}: expected a set of Ed25519 keys")
    return keys
