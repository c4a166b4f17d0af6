"""The charger: trusted time, the relay controller, the vehicle and the store, behind one lock.

Every entry point (tick, permit, vehicle, stop, revocations, receipt ack) first meters up to
the current trusted time, then applies its change and commits it in one transaction, so a
power loss at any point restarts from a consistent state.

It changes state only on something signed or on proof of holding: a permit starts a
session, and hands back a random holder secret; stopping that session needs the secret or
the permit itself; receipts leave only against an acknowledgement a trusted server key signed.
"""

import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from device.battery import Battery
from device.clock import Clock, TrustedTime, iso
from device.config import DeviceConfig, write_trust
from device.protocol import cbor
from device.protocol.acknowledgement import MAX_ACK_SIZE, read_acknowledgement
from device.protocol.cose import decode_sign1
from device.protocol.errors import ProtocolError, Superseded
from device.protocol.keys import b64url, key_id
from device.protocol.permit import MAX_PERMIT_SIZE, PermitClaims
from device.protocol.receipt import Receipt, encode_receipt
from device.protocol.revocation import (
    MAX_REVOCATION_LIST_SIZE,
    RevocationConfirmation,
    encode_confirmation,
    read_revocation_list,
)
from device.protocol.trust_update import MAX_TRUST_DOCUMENT_SIZE, read_trust_document
from device.relay import RelayController, RelayState, Session, Stop
from device.state import Store, StoredSession
from device.verifier import Decision, evaluate, unwrap

Log = Callable[[dict[str, Any]], None]

HOLDER_BYTES = 16


class NotHolder(Exception):
    """A stop without the session's holder secret or its permit."""

    code = "not_holder"


def _no_log(event: dict[str, Any]) -> None:
    """Discard log events."""


class Charger:
    def __init__(self, config: DeviceConfig, store: Store, clock: Clock, log: Log = _no_log):
        self.config = config
        self._store = store
        self._sink = log
        self._lock = threading.RLock()
        floor = max(float(store.get("trusted_time", 0.0)), float(store.get("newest_iat", 0)))
        self._t = 0.0
        self._time = TrustedTime(clock, floor)
        self._t = self._time.now()
        self._relay = RelayController(config.charger_max_power_w)
        vehicle = store.get("vehicle")
        self._battery = Battery.from_json(vehicle) if vehicle else None
        self._revoked = store.revoked_ids()
        stored = store.load_session()
        if stored is not None:
            self._relay.restore(session_from_stored(stored), RelayState(stored.state))
        self._seen = (self._relay.state, self._relay.relay_closed)
        self._log({"event": "started", **self._state_fields()})
        self.tick()

    # -- reading ---------------------------------------------------------------------------

    @property
    def relay_closed(self) -> bool:
        return self._relay.relay_closed

    @property
    def state(self) -> RelayState:
        return self._relay.state

    @property
    def session(self) -> Session | None:
        return self._relay.session

    @property
    def battery(self) -> Battery | None:
        return self._battery

    @property
    def trusted_time(self) -> float:
        """Trusted time as of the last evaluation (the relay reflects exactly this time)."""
        return self._t

    @property
    def revoked(self) -> frozenset[bytes]:
        return self._revoked

    def info(self) -> dict[str, Any]:
        with self._lock:
            self._step()
            session = self._relay.session
            return {
                "device_id": self.config.device_id,
                **self._state_fields(),
                "trusted_time": iso(self._t),
                "revocation_sequence": self._store.get("revocation_sequence"),
                "trust_sequence": self.config.trust_sequence,
                "trusted_keys": [b64url(key_id(k)) for k in self.config.trust],
                "active_permit": None if session is None else _session_json(session),
                "vehicle": None if self._battery is None else self._battery.to_json(),
                "power_w": self._relay.power_w(self._battery) if self.relay_closed else 0.0,
                "energy_total_wh": round(float(self._store.get("energy_total_wh", 0.0)), 3),
                "unsent_receipts": len(self._store.receipts()),
                "last_stop": self._store.get("last_stop"),
            }

    def receipts(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"counter": c, "token": b64url(t)} for c, t in self._store.receipts()]

    # -- changing --------------------------------------------------------------------------

    def tick(self) -> None:
        with self._lock:
            self._step()

    def present_permit(self, data: bytes) -> Decision:
        with self._lock:
            self._step()
            decision = self.evaluate(data)
            claims = decision.claims
            if claims is None:
                self._log({"event": "permit_refused", **decision.to_json()})
                return decision
            self._time.raise_to(claims.issued_at)
            if self._relay.session is None:
                self._relay.authorize(Session(decision.permit, claims, self._time.now()))
                with self._store.transaction():
                    self._store.mark_used(claims.permit_id)
                    self._store.put("newest_iat", max(claims.issued_at, self._newest_iat()))
                    self._store.put("holder", b64url(secrets.token_bytes(HOLDER_BYTES)))
                    self._log({"event": "permit_accepted", **decision.to_json()})
                    self._step()
            # Showing the active session's permit again is proof of holding: it gets the
            # secret again (the phone may have lost the first answer).
            return replace(decision, holder=self._store.get("holder"))

    def evaluate(self, data: bytes, wall: float | None = None) -> Decision:
        """The decision `present_permit` would take, changing nothing."""
        with self._lock:
            session = self._relay.session
            return evaluate(
                data,
                device_id=self.config.device_id,
                trust=self.config.trust,
                now=self._time.peek(wall),
                revoked=self._revoked,
                skew_s=self.config.skew_s,
                is_used=self._store.is_used,
                active=None if session is None else session.claims,
            )

    def set_vehicle(self, battery: Battery | None) -> None:
        with self._lock:
            self._step()
            self._battery = battery
            with self._store.transaction():
                self._log({"event": "vehicle", "vehicle": battery and battery.to_json()})
                self._step()

    def stop(self, *, holder: str | None = None, permit: bytes | None = None) -> bool:
        """Stop the session for whoever holds it: its holder secret, or its permit's bytes.

        False when no session is active; NotHolder when the proof does not match it.
        """
        with self._lock:
            self._step()
            session = self._relay.session
            if session is None:
                return False
            if not self._holds(session, holder, permit):
                self._log({"event": "stop_refused", "reason": NotHolder.code})
                raise NotHolder("stopping needs the session's holder secret or its permit")
            with self._store.transaction():
                stop = self._relay.stop("user_stop", self._t)
                if stop is not None:
                    self._finish(stop)
                self._step()
            return stop is not None

    def apply_revocations(self, data: bytes) -> dict[str, Any]:
        with self._lock:
            self._step()
            try:
                raw = unwrap(data, max_bytes=MAX_REVOCATION_LIST_SIZE)
                revocations = read_revocation_list(
                    raw, self.config.trust, device_id=self.config.device_id
                )
                held = self._store.get("revocation_sequence")
                if held is not None and revocations.sequence <= held:
                    raise Superseded(f"holding sequence {held} already")
            except ProtocolError as err:
                refused = Decision.refused(err).to_json()
                self._log({"event": "revocations_refused", **refused})
                return refused
            self._time.raise_to(revocations.issued_at)
            with self._store.transaction():
                self._store.add_revoked(revocations.permit_ids)
                self._store.put("revocation_sequence", revocations.sequence)
                self._revoked = self._store.revoked_ids()
                result = {
                    "accepted": True,
                    "sequence": revocations.sequence,
                    "revoked": len(revocations.permit_ids),
                }
                self._log({"event": "revocations", **result})
                self._step()
            # For the phone to carry back: the server frees the slots of what we now refuse.
            confirmed = RevocationConfirmation(
                self.config.device_id, revocations.sequence, int(self._t)
            )
            token = encode_confirmation(confirmed, self.config.key)
            return {**result, "confirmation": b64url(token)}

    def apply_trust_update(self, data: bytes) -> dict[str, Any]:
        """Take a server-signed trust-list document: its keys replace the trust list.

        Only a key trusted now may sign it, only for this device, only with a higher sequence
        than the one held; anything else is refused with its reason and changes nothing. The
        new list is on disk (keys and sequence in one atomic file) before it is used."""
        with self._lock:
            self._step()
            try:
                raw = unwrap(data, max_bytes=MAX_TRUST_DOCUMENT_SIZE)
                document = read_trust_document(
                    raw, self.config.trust, device_id=self.config.device_id
                )
                held = self.config.trust_sequence
                if held is not None and document.sequence <= held:
                    raise Superseded(f"holding trust-list sequence {held} already")
            except ProtocolError as err:
                refused = Decision.refused(err).to_json()
                self._log({"event": "trust_refused", **refused})
                return refused
            self._time.raise_to(document.issued_at)
            write_trust(self.config.state_dir, document.trust, document.sequence)
            self.config = replace(
                self.config, trust=document.trust, trust_sequence=document.sequence
            )
            result = {
                "accepted": True,
                "sequence": document.sequence,
                "trusted_keys": [b64url(key_id(k)) for k in document.keys],
            }
            self._log({"event": "trust", **result})
            self._step()
            return result

    def ack_receipts(self, data: bytes) -> int:
        """Delete the receipts a server-signed acknowledgement names; how many went.

        Raises ProtocolError for anything a trusted server key did not sign for this device.
        """
        with self._lock:
            raw = unwrap(data, max_bytes=MAX_ACK_SIZE)
            ack = read_acknowledgement(raw, self.config.trust, device_id=self.config.device_id)
            with self._store.transaction():
                deleted = self._store.delete_receipts(ack.receipts)
                self._log({"event": "receipts_acknowledged", "deleted": deleted})
            return deleted

    # -- internals -------------------------------------------------------------------------

    def _log(self, event: dict[str, Any]) -> None:
        self._sink({"at": iso(self._t), **event})

    def _step(self) -> None:
        """Meter up to trusted time now, decide the relay, persist it all in one transaction."""
        prev, t = self._t, self._time.now()
        self._t = t
        session = self._relay.session
        energy_before = session.energy_wh if session is not None else 0.0
        stop = self._relay.advance(prev, t, self._battery, self._revoked)
        delta = (session.energy_wh - energy_before) if session is not None else 0.0
        with self._store.transaction():
            self._store.put("trusted_time", t)
            if delta > 0:
                total = float(self._store.get("energy_total_wh", 0.0)) + delta
                self._store.put("energy_total_wh", total)
            if stop is not None:
                self._finish(stop)
            self._save_session()
        self._log_state()

    def _finish(self, stop: Stop) -> None:
        session = stop.session
        counter = int(self._store.get("receipt_counter", 0)) + 1
        started = session.started_at if session.started_at is not None else stop.at
        receipt = Receipt(
            device_id=self.config.device_id,
            permit_id=session.claims.permit_id,
            counter=counter,
            started_at=int(started),
            stopped_at=int(stop.at),
            energy_wh=round(session.energy_wh, 3),
            stop_reason=stop.reason,
            request_id=session.claims.request_id,
        )
        self._store.add_receipt(
            counter, receipt.permit_id, encode_receipt(receipt, self.config.key)
        )
        self._store.put("receipt_counter", counter)
        self._store.put("holder", None)  # the secret dies with its session
        last = {"permit_id": receipt.permit_id.hex(), "reason": stop.reason, "at": iso(stop.at)}
        self._store.put("last_stop", {**last, "energy_wh": receipt.energy_wh, "counter": counter})
        self._save_session()
        self._log({"event": "stopped", **last, "energy_wh": receipt.energy_wh})

    def _holds(self, session: Session, holder: str | None, permit: bytes | None) -> bool:
        if holder is not None:
            held = self._store.get("holder")
            return isinstance(held, str) and hmac.compare_digest(holder, held)
        if permit is not None:
            try:
                presented = unwrap(permit, max_bytes=MAX_PERMIT_SIZE)
            except ProtocolError:
                return False
            return hmac.compare_digest(presented, session.permit)
        return False

    def _save_session(self) -> None:
        session = self._relay.session
        if session is None:
            self._store.clear_session()
        else:
            self._store.save_session(
                StoredSession(
                    session.permit,
                    self._relay.state.value,
                    session.accepted_at,
                    session.started_at,
                    session.energy_wh,
                )
            )
        self._store.put("vehicle", None if self._battery is None else self._battery.to_json())

    def _newest_iat(self) -> int:
        return int(self._store.get("newest_iat", 0))

    def _state_fields(self) -> dict[str, Any]:
        return {"state": self._relay.state.value, "relay": _relay_word(self.relay_closed)}

    def _log_state(self) -> None:
        seen = (self._relay.state, self._relay.relay_closed)
        if seen != self._seen:
            self._seen = seen
            session = self._relay.session
            extra = {} if session is None else {"permit_id": session.claims.permit_id.hex()}
            self._log({"event": "state", **self._state_fields(), **extra})


def _relay_word(closed: bool) -> str:
    return "closed" if closed else "open"


def _session_json(session: Session) -> dict[str, Any]:
    claims = session.claims
    return {
        "permit_id": claims.permit_id.hex(),
        "request_id": claims.request_id,
        "not_before": iso(claims.not_before),
        "expires_at": iso(claims.expires_at),
        "energy_wh": round(session.energy_wh, 3),
        "max_energy_wh": claims.max_energy_wh,
        "max_power_w": claims.max_power_w,
    }


def session_from_stored(stored: StoredSession) -> Session:
    """A stored session's permit was verified when accepted; re-read its claims only."""
    message = decode_sign1(stored.permit, max_size=MAX_PERMIT_SIZE)
    claims = PermitClaims.from_cbor_map(cbor.loads(message.payload, max_size=MAX_PERMIT_SIZE))
    session = Session(stored.permit, claims, stored.accepted_at, stored.energy_wh)
    session.started_at = stored.started_at
    return session
