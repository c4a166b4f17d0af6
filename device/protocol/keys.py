"""Ed25519 keys, key ids and trust lists in JWK Set form (RFC 7517, RFC 8037)."""

import base64
import hashlib
import json
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from device.protocol.errors import Malformed, UnknownKey

KID_SIZE = 4  # bytes: a permit carries it, so it stays short; trust lists are tiny.
SEED_SIZE = 32


class KeyFileError(ValueError):
    """A key file others may read, or one that holds no key: refused with the fix to apply."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as err:
        raise Malformed("not base64url") from err


def raw_public(key: ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: ed25519.Ed25519PublicKey) -> bytes:
    return hashlib.sha256(raw_public(public_key)).digest()[:KID_SIZE]


@dataclass(frozen=True)
class SigningKey:
    """A private key together with the kid that names it in COSE headers."""

    private_key: ed25519.Ed25519PrivateKey

    @cached_property
    def public_key(self) -> ed25519.Ed25519PublicKey:
        return self.private_key.public_key()

    @cached_property  # every permit names it: derive it once, not per signature
    def kid(self) -> bytes:
        return key_id(self.public_key)

    @classmethod
    def generate(cls) -> "SigningKey":
        return cls(ed25519.Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, path: Path) -> "SigningKey":
        """Read a raw 32-byte seed file, creating it (mode 0600) on first use.

        Creation is atomic: the seed is written to a private temporary file and linked into
        place, so a process starting at the same moment either wins or reads the winner's
        whole key, never a half-written file, and neither crashes."""
        try:
            return cls.load(path)
        except FileNotFoundError:
            pass
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = cls.generate()
        seed = key.private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(seed)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, path)  # fails, rather than overwrites, if another process won
            except FileExistsError:
                return cls.load(path)
        finally:
            tmp.unlink(missing_ok=True)
        return key

    @classmethod
    def load(cls, path: Path) -> "SigningKey":
        """Read a seed file that only its owner may read or write."""
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise KeyFileError(
                f"{path} is open to other users (mode {mode:04o}): a private key must be "
                f"mode 0600. Run `chmod 600 {path}` (and replace the key if others read it)."
            )
        seed = path.read_bytes()
        if len(seed) != SEED_SIZE:
            raise KeyFileError(f"{path} holds {len(seed)} bytes, not a {SEED_SIZE}-byte seed.")
        return cls(ed25519.Ed25519PrivateKey.from_private_bytes(seed))


class TrustList:
    """The public keys a device accepts signatures from, by kid."""

    def __init__(self, keys: Iterable[ed25519.Ed25519PublicKey] = ()) -> None:
        self._keys = {key_id(k): k for k in keys}

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[ed25519.Ed25519PublicKey]:
        return iter(self._keys.values())

    def find(self, kid: bytes | None) -> ed25519.Ed25519PublicKey:
        if kid is None or kid not in self._keys:
            raise UnknownKey("key id not in the trust list")
        return self._keys[kid]

    def to_jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(k) for k in self._keys.values()]}

    @classmethod
    def from_jwks(cls, jwks: dict[str, Any]) -> "TrustList":
        keys = jwks.get("keys") if isinstance(jwks, dict) else None
        if not isinstance(keys, list):
            raise Malformed("a JWK Set needs a 'keys' array")
        return cls(public_key_from_jwk(jwk) for jwk in keys)

    @classmethod
    def from_json(cls, text: str) -> "TrustList":
        try:
            return cls.from_jwks(json.loads(text))
        except json.JSONDecodeError as err:
            raise Malformed("trust list is not JSON") from err


def public_jwk(key: ed25519.Ed25519PublicKey) -> dict[str, str]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "alg": "EdDSA",
        "use": "sig",
        "kid": b64url(key_id(key)),
        "x": b64url(raw_public(key)),
    }


def public_key_from_jwk(jwk: Any) -> ed25519.Ed25519PublicKey:
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise Malformed("only OKP Ed25519 keys are supported")
    raw = b64url_decode(str(jwk.get("x", "")))
    if len(raw) != 32:
        raise Malformed("Ed25519 public key must be 32 bytes")
    key = ed25519.Ed25519PublicKey.from_public_bytes(raw)
    if "kid" in jwk and b64url_decode(str(jwk["kid"])) != key_id(key):
        raise Malformed("JWK kid does not match its key")
    return key


def public_key_from_raw(raw: bytes) -> ed25519.Ed25519PublicKey:
    if len(raw) != 32:
        raise Malformed("Ed25519 public key must be 32 bytes")
    return ed25519.Ed25519PublicKey.from_public_bytes(raw)
