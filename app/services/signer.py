"""The permit signer: turns an approved request into the device's signed formats.

It signs with the keyring (app/services/keyring.py) as it is at that moment:
- permits with the *current* key (the newest after a rotation), and each permit records its
  kid, so `keys prune` knows when a key signed its last still-valid permit;
- what a charger must act on whatever its trust list (revocation lists, receipt
  acknowledgements, trust-list documents) with the *oldest* published key. Every charger
  that can still be reached trusts it: a charger's trust list is a snapshot of the published
  keys (its trust file, or the last trust-list document it took), and pruning drops the
  oldest keys first. A charger that has not yet taken the document naming the new key
  would refuse a revocation list signed by that key, and keep honouring a revoked permit.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.domain.model import Device, Permit, UsageRequest
from app.services.keyring import KeyDirectory, KeyEntry, Keyring, LiveKeyring, kid_text
from device.protocol import PermitClaims, SigningKey, TrustList, encode_permit, new_permit_id
from device.protocol.acknowledgement import ReceiptAcknowledgement, encode_acknowledgement
from device.protocol.revocation import RevocationList, encode_revocation_list
from device.protocol.trust_update import TrustListDocument, encode_trust_document


class _OneKey:
    """A ring of one fixed key (tests and tools that sign without a data directory)."""

    def __init__(self, key: SigningKey) -> None:
        entry = KeyEntry(kid_text(key), "", datetime.fromtimestamp(0, UTC), None, key)
        self._ring = Keyring(0, entry.kid, (entry,))

    def get(self) -> Keyring:
        return self._ring


class PermitSigner:
    def __init__(self, keys: LiveKeyring | SigningKey, issuer: str) -> None:
        self.keys: LiveKeyring | _OneKey = _OneKey(keys) if isinstance(keys, SigningKey) else keys
        self.issuer = issuer

    @classmethod
    def from_directory(cls, path: Path, issuer: str) -> "PermitSigner":
        """The signer of a server process: the keyring in `path`, followed as it changes."""
        return cls(LiveKeyring(KeyDirectory(path)), issuer)

    @property
    def keyring(self) -> Keyring:
        return self.keys.get()

    @property
    def key(self) -> SigningKey:
        """The current key: the one new permits are signed with."""
        return self.keyring.current

    def issue(self, request: UsageRequest, device: Device, now: datetime) -> Permit:
        key = self.key
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
            token=encode_permit(claims, key),
            kid=kid_text(key),
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
        return encode_revocation_list(revocations, self.keyring.oldest)

    def receipt_acknowledgement(
        self, device_id: str, digests: Iterable[bytes], now: datetime
    ) -> bytes:
        """The server's word that it stored these receipts: the device may delete them."""
        ack = ReceiptAcknowledgement(device_id, frozenset(digests), int(now.timestamp()))
        return encode_acknowledgement(ack, self.keyring.oldest)

    def trust_document(self, device_id: str, now: datetime) -> tuple[TrustListDocument, bytes]:
        """Every published key, for one device to trust from now on; numbered by the ring's
        sequence, which every rotation and prune raises."""
        ring = self.keyring
        document = TrustListDocument(
            device_id=device_id,
            sequence=ring.sequence,
            keys=tuple(e.key.public_key for e in ring.entries),
            issued_at=int(now.timestamp()),
        )
        return document, encode_trust_document(document, ring.oldest)

    def key_set(self) -> TrustList:
        """Every published key: the current one, and older ones a valid permit still names."""
        return TrustList(e.key.public_key for e in self.keyring.entries)

    def jwks(self) -> dict[str, Any]:
        return self.key_set().to_jwks()
