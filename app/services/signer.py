"""The permit signer: turns an approved request into the device's signed formats."""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from app.domain.model import Device, Permit, UsageRequest
from device.protocol import PermitClaims, SigningKey, TrustList, encode_permit, new_permit_id
from device.protocol.acknowledgement import ReceiptAcknowledgement, encode_acknowledgement
from device.protocol.revocation import RevocationList, encode_revocation_list


class PermitSigner:
    def __init__(self, key: SigningKey, issuer: str) -> None:
        self.key = key
        self.issuer = issuer

    def issue(self, request: UsageRequest, device: Device, now: datetime) -> Permit:
        hours = request.slot.duration / timedelta(hours=1)
        permit_id = new_permit_id()
        claims = PermitClaims(
            issuer=self.issuer,
            user_id=request.user_id,
            device_id=device.id,
            not_before=int(request.slot.starts_at.timestamp()),
            expires_at=int(request.slot.ends_at.timestamp()),
            issued_at=int(now.timestamp()),
            permit_id=permit_id,
            request_id=request.id,
            max_energy_wh=round(device.max_power_w * hours),
            max_power_w=device.max_power_w,
        )
        return Permit(
            id=permit_id.hex(),
            request_id=request.id,
            device_id=device.id,
            user_id=request.user_id,
            not_before=request.slot.starts_at,
            expires_at=request.slot.ends_at,
            issued_at=now.replace(microsecond=0),
            max_energy_wh=claims.max_energy_wh or 0,
            max_power_w=device.max_power_w,
            token=encode_permit(claims, self.key),
        )

    def revocation_list(
        self, device_id: str, sequence: int, permit_ids: list[str], now: datetime
    ) -> bytes:
        revocations = RevocationList(
            device_id=device_id,
            sequence=sequence,
            permit_ids=frozenset(bytes.fromhex(p) for p in permit_ids),
            issued_at=int(now.timestamp()),
        )
        return encode_revocation_list(revocations, self.key)

    def receipt_acknowledgement(
        self, device_id: str, digests: Iterable[bytes], now: datetime
    ) -> bytes:
        """The server's word that it stored these receipts: the device may delete them."""
        ack = ReceiptAcknowledgement(device_id, frozenset(digests), int(now.timestamp()))
        return encode_acknowledgement(ack, self.key)

    def key_set(self) -> TrustList:
        """Every key the server signs with: one today, more while keys rotate."""
        return TrustList([self.key.public_key])

    def jwks(self) -> dict[str, Any]:
        return self.key_set().to_jwks()
