"""The permit: a CWT (RFC 8392) in a COSE_Sign1, bound to one device and one window.

Claim keys are integers on purpose: a permit must fit a QR code a phone shows
comfortably (docs/permit-format.md). Limits and the request id ride in one private claim.
"""

import os
from collections.abc import Container
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import cbor2

from device.protocol import cbor
from device.protocol.cose import Alg, decode_sign1, sign1_ed25519, verify_signature
from device.protocol.errors import (
    Expired,
    Malformed,
    NotYetValid,
    Revoked,
    UnsupportedAlgorithm,
    WrongDevice,
)
from device.protocol.keys import SigningKey, TrustList

MAX_PERMIT_SIZE = 1024
DEFAULT_SKEW_S = 60
PERMIT_ID_SIZE = 16
ALLOWED_ALGS = frozenset({Alg.EDDSA.value})


class Claim(IntEnum):
    ISS = 1
    SUB = 2
    AUD = 3
    EXP = 4
    NBF = 5
    IAT = 6
    CTI = 7
    POWERPERMIT = -65537  # private use (< -65536): a map keyed by Limit


class Limit(IntEnum):
    REQUEST_ID = 1
    MAX_ENERGY_WH = 2
    MAX_POWER_W = 3


@dataclass(frozen=True)
class PermitClaims:
    issuer: str
    user_id: str
    device_id: str
    not_before: int
    expires_at: int
    issued_at: int
    permit_id: bytes
    request_id: str
    max_energy_wh: int | None = None
    max_power_w: int | None = None

    def to_cbor_map(self) -> dict[int, Any]:
        limits: dict[int, Any] = {Limit.REQUEST_ID.value: self.request_id}
        if self.max_energy_wh is not None:
            limits[Limit.MAX_ENERGY_WH.value] = self.max_energy_wh
        if self.max_power_w is not None:
            limits[Limit.MAX_POWER_W.value] = self.max_power_w
        return {
            Claim.ISS.value: self.issuer,
            Claim.SUB.value: self.user_id,
            Claim.AUD.value: self.device_id,
            Claim.EXP.value: self.expires_at,
            Claim.NBF.value: self.not_before,
            Claim.IAT.value: self.issued_at,
            Claim.CTI.value: self.permit_id,
            Claim.POWERPERMIT.value: limits,
        }

    @classmethod
    def from_cbor_map(cls, claims: Any) -> "PermitClaims":
        if not isinstance(claims, dict):
            raise Malformed("CWT claims must be a map")
        limits = claims.get(Claim.POWERPERMIT, {})
        if not isinstance(limits, dict):
            raise Malformed("the PowerPermit claim must be a map")
        # One pass over the required claims (this runs on every permit a device checks).
        iss, sub, aud, nbf, exp, iat, cti = (_typed(claims, k, t) for k, t in _REQUIRED_CLAIMS)
        if len(cti) != PERMIT_ID_SIZE:
            raise Malformed(f"cti must be {PERMIT_ID_SIZE} bytes")
        if exp <= nbf:
            raise Malformed("window end must be after its start")
        return cls(
            issuer=iss,
            user_id=sub,
            device_id=aud,
            not_before=nbf,
            expires_at=exp,
            issued_at=iat,
            permit_id=cti,
            request_id=_typed(limits, Limit.REQUEST_ID, str),
            max_energy_wh=_optional_int(limits, Limit.MAX_ENERGY_WH),
            max_power_w=_optional_int(limits, Limit.MAX_POWER_W),
        )


_REQUIRED_CLAIMS = (
    (Claim.ISS.value, str),
    (Claim.SUB.value, str),
    (Claim.AUD.value, str),
    (Claim.NBF.value, int),
    (Claim.EXP.value, int),
    (Claim.IAT.value, int),
    (Claim.CTI.value, bytes),
)


def new_permit_id() -> bytes:
    return os.urandom(PERMIT_ID_SIZE)


def encode_permit(claims: PermitClaims, key: SigningKey) -> bytes:
    payload = cbor2.dumps(claims.to_cbor_map())
    return sign1_ed25519(payload, key.private_key, key.kid, cwt=True)


def read_permit(data: bytes, trust: TrustList) -> PermitClaims:
    """Bounded parse, headers, kid, signature, then claims; no time or device checks."""
    message = decode_sign1(data, max_size=MAX_PERMIT_SIZE)
    if message.alg not in ALLOWED_ALGS:
        raise UnsupportedAlgorithm(f"algorithm {message.alg} is not allowed for permits")
    verify_signature(message, trust.find(message.kid))
    claims = cbor.loads(message.payload, max_size=MAX_PERMIT_SIZE, max_depth=3)
    return PermitClaims.from_cbor_map(claims)


def verify_permit(
    data: bytes,
    trust: TrustList,
    *,
    device_id: str,
    now: int,
    revoked: Container[bytes] = frozenset(),
    skew_s: int = DEFAULT_SKEW_S,
) -> PermitClaims:
    """Every check of DESIGN.md in order; raises the ProtocolError of the first that fails."""
    claims = read_permit(data, trust)
    check_claims(claims, device_id=device_id, now=now, revoked=revoked, skew_s=skew_s)
    return claims


def check_claims(
    claims: PermitClaims,
    *,
    device_id: str,
    now: float,
    revoked: Container[bytes] = frozenset(),
    skew_s: int = DEFAULT_SKEW_S,
) -> None:
    """The claim checks of `verify_permit`, for a caller that already ran `read_permit`."""
    if claims.device_id != device_id:
        raise WrongDevice(f"permit is for device {claims.device_id!r}")
    if now < claims.not_before - skew_s:
        raise NotYetValid(f"window opens at {claims.not_before}")
    if now >= claims.expires_at:
        raise Expired(f"window closed at {claims.expires_at}")
    if claims.permit_id in revoked:
        raise Revoked("permit is on the revocation list")


def _typed(claims: dict[Any, Any], key: int, kind: type) -> Any:
    value = claims.get(key)
    if type(value) is not kind:  # exact: cbor2 builds exact types, and a bool is no int here
        raise Malformed(f"claim {int(key)} missing or not {kind.__name__}")
    return value


def _optional_int(claims: dict[Any, Any], key: int) -> int | None:
    if key not in claims:
        return None
    value: int = _typed(claims, key, int)
    return value
