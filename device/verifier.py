"""The device's decision on a presented permit, shared by the local link, `verify` and `scan`.

Accepted forms: the raw permit bytes, the `PP1:` text, or base64url of the bytes (the
server's `token`). Order of checks: size, then everything `read_permit` does (bounded CBOR,
headers, kid, signature), then the claims against trusted time, then whether this device
already used the permit or holds another one.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from device.clock import iso
from device.protocol.errors import Malformed, ProtocolError, Superseded, TooLarge
from device.protocol.keys import TrustList, b64url_decode
from device.protocol.permit import MAX_PERMIT_SIZE, PermitClaims, check_claims, read_permit
from device.protocol.text import from_text, looks_like_text

_B64URL = re.compile(rb"[A-Za-z0-9_-]+={0,2}")


@dataclass(frozen=True)
class Decision:
    claims: PermitClaims | None
    permit: bytes = b""
    reason: str | None = None
    message: str = ""
    holder: str | None = None  # the session's secret, set when the charger took the permit

    @property
    def accepted(self) -> bool:
        return self.claims is not None

    def to_json(self) -> dict[str, Any]:
        if self.claims is None:
            return {"accepted": False, "reason": self.reason, "message": self.message}
        accepted = {
            "accepted": True,
            "permit_id": self.claims.permit_id.hex(),
            "not_before": iso(self.claims.not_before),
            "expires_at": iso(self.claims.expires_at),
        }
        return accepted if self.holder is None else {**accepted, "holder": self.holder}

    @classmethod
    def refused(cls, err: ProtocolError) -> "Decision":
        return cls(None, reason=err.code, message=str(err) or type(err).__doc__ or err.code)


def unwrap(data: bytes, *, max_bytes: int) -> bytes:
    """Raw bytes from any presented form: raw, `PP1:` text, or base64url text."""
    if len(data) > 2 * max_bytes + 16:
        raise TooLarge(f"{len(data)} bytes is larger than any accepted message")
    if looks_like_text(data):
        try:
            return from_text(data.decode("ascii"), max_bytes=max_bytes)
        except UnicodeDecodeError as err:
            raise Malformed("text form is not ASCII") from err
    stripped = data.strip()
    if stripped and _B64URL.fullmatch(stripped):
        return b64url_decode(stripped.decode("ascii").rstrip("="))
    return data


def evaluate(
    data: bytes,
    *,
    device_id: str,
    trust: TrustList,
    now: float,
    revoked: frozenset[bytes],
    skew_s: int,
    is_used: Callable[[bytes], bool],
    active: PermitClaims | None,
) -> Decision:
    """Decide on a presented permit at trusted time `now`; changes nothing."""
    try:
        permit = unwrap(data, max_bytes=MAX_PERMIT_SIZE)
        claims = read_permit(permit, trust)
        if claims.device_id == device_id:
            now = max(now, claims.issued_at)  # a verified iat is trusted time too
        check_claims(claims, device_id=device_id, now=now, revoked=revoked, skew_s=skew_s)
        if active is not None and active.permit_id == claims.permit_id:
            return Decision(claims, permit)
        if is_used(claims.permit_id):
            raise Superseded("this permit was already used on this device")
        if active is not None:
            raise Superseded("another permit's session is active; stop it first")
    except ProtocolError as err:
        return Decision.refused(err)
    return Decision(claims, permit)
