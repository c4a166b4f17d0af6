"""Access tokens: what verification refuses, and the key set's file."""

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey
from joserfc.jws import JWSRegistry

from app.auth.access_tokens import (
    REGISTRY,
    AccessTokens,
    RefusedToken,
    load_or_create,
    new_key_set,
)

ISSUER = "https://pp.example"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def tokens() -> AccessTokens:
    return AccessTokens(new_key_set(), ISSUER)


def b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(tokens: AccessTokens, **changes: Any) -> dict[str, Any]:
    good = {
        "iss": ISSUER,
        "aud": ISSUER + "/graphql",
        "sub": "u-1",
        "client_id": "c-1",
        "scope": "requests:read",
        "jti": "j-1",
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(minutes=15)).timestamp()),
    }
    return {**good, **changes}


def signed(tokens: AccessTokens, payload: dict[str, Any], **header: Any) -> str:
    key = tokens.keys.keys[0]
    head = {"alg": "EdDSA", "kid": key.kid, "typ": "at+jwt", **header}
    return jwt.encode(head, payload, key, registry=REGISTRY)


def test_an_issued_token_verifies_with_its_claims(tokens: AccessTokens) -> None:
    token, issued = tokens.issue("u-1", "c-1", frozenset({"requests:read"}), NOW)
    verified = tokens.verify(token, NOW + timedelta(minutes=14))
    assert verified == issued
    assert verified.scopes == {"requests:read"} and verified.client_id == "c-1"
    assert verified.expires_at - verified.issued_at == timedelta(minutes=15)


def test_a_hand_made_token_with_the_right_key_and_claims_verifies(tokens: AccessTokens) -> None:
    assert tokens.verify(signed(tokens, claims(tokens)), NOW).sub == "u-1"  # the baseline


def test_expired_is_refused(tokens: AccessTokens) -> None:
    token, _ = tokens.issue("u-1", "c-1", "requests:read", NOW)
    with pytest.raises(RefusedToken, match="expired"):
        tokens.verify(token, NOW + timedelta(minutes=15))


def test_wrong_issuer_is_refused(tokens: AccessTokens) -> None:
    other = AccessTokens(tokens.keys, "https://elsewhere.example")
    token, _ = other.issue("u-1", "c-1", "requests:read", NOW)
    with pytest.raises(RefusedToken):
        tokens.verify(token, NOW)
    with pytest.raises(RefusedToken, match="issuer"):
        tokens.verify(signed(tokens, claims(tokens, iss="https://elsewhere.example")), NOW)


def test_wrong_audience_is_refused(tokens: AccessTokens) -> None:
    with pytest.raises(RefusedToken, match="audience"):
        tokens.verify(signed(tokens, claims(tokens, aud=ISSUER + "/other-api")), NOW)


def test_alg_none_is_refused(tokens: AccessTokens) -> None:
    head = {"alg": "none", "typ": "at+jwt", "kid": tokens.keys.keys[0].kid}
    for signature in ("", "AAAA"):
        with pytest.raises(RefusedToken):
            tokens.verify(f"{b64(head)}.{b64(claims(tokens))}.{signature}", NOW)


def test_hs256_keyed_with_the_public_key_is_refused(tokens: AccessTokens) -> None:
    """The classic confusion: the verifier's public key used as an HMAC secret."""
    public = tokens.jwks()["keys"][0]
    secret = OctKey.import_key(public["x"].encode())
    head = {"alg": "HS256", "typ": "at+jwt", "kid": public["kid"]}
    forged = jwt.encode(head, claims(tokens), secret, registry=JWSRegistry(algorithms=["HS256"]))
    with pytest.raises(RefusedToken):
        tokens.verify(forged, NOW)


def test_signed_by_another_key_is_refused_even_under_our_kid(tokens: AccessTokens) -> None:
    stranger = AccessTokens(new_key_set(), ISSUER)
    token = signed(stranger, claims(tokens), kid=tokens.keys.keys[0].kid)
    with pytest.raises(RefusedToken):
        tokens.verify(token, NOW)
    with pytest.raises(RefusedToken):
        tokens.verify(signed(stranger, claims(tokens)), NOW)  # under its own kid


def test_tampered_claims_are_refused(tokens: AccessTokens) -> None:
    token, _ = tokens.issue("u-1", "c-1", "requests:read", NOW)
    head, _, signature = token.split(".")
    wider = claims(tokens, scope="requests:read requests:decide devices:manage")
    with pytest.raises(RefusedToken):
        tokens.verify(f"{head}.{b64(wider)}.{signature}", NOW)


def test_another_kind_of_jwt_from_this_server_is_not_an_access_token(
    tokens: AccessTokens,
) -> None:
    with pytest.raises(RefusedToken, match="typ"):
        tokens.verify(signed(tokens, claims(tokens), typ="oauth-consent+jwt"), NOW)


def test_garbage_is_refused(tokens: AccessTokens) -> None:
    for junk in ("a.b.c", "..", "%%%.%%%.%%%", b64(b"{}") + ".e30.", ""):
        with pytest.raises(RefusedToken):
            tokens.verify(junk, NOW)


def test_the_key_file_is_created_private_once_and_then_shared(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "access-tokens.jwks.json"
    first = load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = load_or_create(path)  # another process starting later
    assert again.keys[0].kid == first.keys[0].kid
    token, _ = AccessTokens(first, ISSUER).issue("u-1", "c-1", "requests:read", NOW)
    assert AccessTokens(again, ISSUER).verify(token, NOW).sub == "u-1"
    public = AccessTokens(again, ISSUER).jwks()["keys"][0]
    assert "d" not in public and public["crv"] == "Ed25519"  # the private part stays home


def test_a_key_file_open_to_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "access-tokens.jwks.json"
    load_or_create(path)
    os.chmod(path, 0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        load_or_create(path)


def test_a_token_verified_before_is_still_refused_once_expired(tokens: AccessTokens) -> None:
    token, _ = tokens.issue("u-1", "c-1", "requests:read", NOW)
    assert tokens.verify(token, NOW).sub == "u-1"  # now remembered as verified
    assert tokens.verify(token, NOW + timedelta(minutes=14)).sub == "u-1"
    with pytest.raises(RefusedToken, match="expired"):
        tokens.verify(token, NOW + timedelta(minutes=15))
    head, payload, signature = token.split(".")
    with pytest.raises(RefusedToken):  # one byte off is not the remembered token
        flipped = ("B" if signature[0] == "A" else "A") + signature[1:]  # 6 whole bits
        tokens.verify(f"{head}.{payload}.{flipped}", NOW)
