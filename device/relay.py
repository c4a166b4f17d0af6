"""The relay controller: idle -> authorized -> charging -> stopped -> idle.

Pure logic, no I/O: the runtime feeds it trusted time, the plugged vehicle and the revoked
permit ids, and persists what comes out. The relay is closed only in `charging`, and the
controller enters `charging` only inside the window of a non-revoked permit with energy left.
"""

from dataclasses import dataclass
from enum import StrEnum

from device.battery import Battery
from device.protocol.permit import PermitClaims

ENERGY_EPSILON_WH = 1e-9


class RelayState(StrEnum):
    IDLE = "idle"
    AUTHORIZED = "authorized"
    CHARGING = "charging"
    STOPPED = "stopped"


@dataclass
class Session:
    """One accepted permit from acceptance to its receipt."""

    permit: bytes
    claims: PermitClaims
    accepted_at: float
    energy_wh: float = 0.0
    started_at: float | None = None

    @property
    def limit_left_wh(self) -> float:
        if self.claims.max_energy_wh is None:
            return float("inf")
        return max(0.0, self.claims.max_energy_wh - self.energy_wh)


@dataclass(frozen=True)
class Stop:
    session: Session
    reason: str
    at: float


class RelayController:
    def __init__(self, charger_max_power_w: float) -> None:
        self.charger_max_power_w = charger_max_power_w
        self.state = RelayState.IDLE
        self.session: Session | None = None

    @property
    def relay_closed(self) -> bool:
        return self.state is RelayState.CHARGING

    def power_w(self, battery: Battery | None) -> float:
        if self.session is None or battery is None:
            return 0.0
        power = min(self.charger_max_power_w, battery.max_power_w)
        if self.session.claims.max_power_w is not None:
            power = min(power, self.session.claims.max_power_w)
        return max(0.0, power)

    def restore(self, session: Session, state: RelayState) -> None:
        """After a restart the relay comes up open; the next `advance` decides again."""
        self.session = session
        self.state = RelayState.AUTHORIZED if state is RelayState.CHARGING else state

    def authorize(self, session: Session) -> None:
        if self.session is not None:
            raise RuntimeError("a session is already active")
        self.session = session
        self.state = RelayState.AUTHORIZED

    def stop(self, reason: str, at: float) -> Stop | None:
        if self.session is None:
            return None
        stop = Stop(self.session, reason, at)
        self.session = None
        self.state = RelayState.STOPPED
        return stop

    def advance(
        self, prev_t: float, t: float, battery: Battery | None, revoked: frozenset[bytes]
    ) -> Stop | None:
        """Meter [prev_t, t] with the relay as it was, then decide the state at `t`."""
        session = self.session
        if session is None:
            self.state = RelayState.IDLE
            return None
        claims = session.claims
        done_at = t  # when the energy limit or a full battery was reached, if they were
        if self.state is RelayState.CHARGING and battery is not None:
            lo, hi = max(prev_t, claims.not_before), min(t, claims.expires_at)
            power = self.power_w(battery)
            if hi > lo and power > 0:
                taken = battery.charge(power, hi - lo, limit_wh=session.limit_left_wh)
                session.energy_wh += taken
                if claims.max_energy_wh is not None:
                    session.energy_wh = min(session.energy_wh, float(claims.max_energy_wh))
                done_at = min(hi, lo + taken * 3600.0 / min(power, battery.max_power_w))
        if claims.permit_id in revoked:
            return self.stop("revoked", t)
        if session.limit_left_wh <= ENERGY_EPSILON_WH:
            return self.stop("energy_limit", done_at)
        if battery is not None and battery.full and self.state is RelayState.CHARGING:
            return self.stop("battery_full", done_at)
        if t >= claims.expires_at:
            return self.stop("window_end", float(claims.expires_at))
        if battery is None:
            if self.state is RelayState.CHARGING:
                return self.stop("unplugged", t)
            self.state = RelayState.AUTHORIZED
            return None
        if t < claims.not_before:
            self.state = RelayState.AUTHORIZED
            return None
        if battery.full:
            return self.stop("battery_full", t)
        if session.started_at is None:
            session.started_at = t
        self.state = RelayState.CHARGING
        return None
