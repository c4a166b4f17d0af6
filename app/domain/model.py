"""Entities of a charging site: users, sites with their policy, devices, usage requests."""

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

from app.domain.errors import InvalidTransition


class Role(StrEnum):
    MANAGER = "manager"
    USER = "user"  # a driver
    ADMIN = "admin"  # runs the installation (`powerpermit user create --role admin`)


class Status(StrEnum):
    NEEDS_MANAGER = "NEEDS_MANAGER"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    COMPLETED = "COMPLETED"


# Windows lie well inside what datetime can represent, so converting one to any time zone
# (opening hours, epoch seconds, ISO text) cannot overflow.
CALENDAR_START = datetime(1970, 1, 1, tzinfo=UTC)
CALENDAR_END = datetime(9999, 1, 1, tzinfo=UTC)

# Statuses that hold a slot on the device: no two of them may overlap.
SLOT_HOLDING = frozenset({Status.NEEDS_MANAGER, Status.APPROVED})


def holds_slot(status: Status, revocation_pending: bool) -> bool:
    """The one definition of a request that holds its slot (the store's constraint mirrors it).

    Besides the slot-holding statuses, a withdrawn request whose permit was issued keeps its
    slot while the revocation is pending (until the device confirms holding it, or the
    window has passed): an offline charger still honours that permit, so the slot must not
    be given to anyone else.
    """
    return status in SLOT_HOLDING or revocation_pending


_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEEDS_MANAGER: frozenset(
        {Status.APPROVED, Status.REJECTED, Status.CANCELLED, Status.EXPIRED}
    ),
    Status.APPROVED: frozenset(
        {Status.CANCELLED, Status.REVOKED, Status.EXPIRED, Status.COMPLETED}
    ),
    # The expiry sweep may run before the phone brings the receipt home.
    Status.EXPIRED: frozenset({Status.COMPLETED}),
}


@dataclass(frozen=True)
class User:
    id: str
    login: str
    display_name: str
    role: Role
    # None: a first-party session (sign-in, the pages, a login token): all the role allows.
    # A set: an OAuth2 access token, which opens only the operations these scopes name
    # (app/domain/scopes.py), and never more than the role allows either.
    scopes: frozenset[str] | None = None
    client_id: str | None = None  # the OAuth2 client an access token was issued to

    @property
    def is_manager(self) -> bool:
        return self.role is Role.MANAGER

    def has_scope(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes


@dataclass(frozen=True)
class Policy:
    """A site's approval policy; the rules in app.domain.rules read it."""

    max_duration: timedelta = timedelta(hours=8)
    auto_approve_up_to: timedelta = timedelta(hours=2)
    booking_horizon: timedelta = timedelta(days=14)
    start_grace: timedelta = timedelta(minutes=5)
    max_open_requests: int = 3
    opens_at: time | None = None  # None with closes_at None: open around the clock
    closes_at: time | None = None

    @property
    def always_open(self) -> bool:
        return self.opens_at is None or self.closes_at is None or self.opens_at == self.closes_at


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    timezone: str
    policy: Policy
    manager_ids: frozenset[str] = frozenset()
    member_ids: frozenset[str] = frozenset()

    def admits(self, user: User) -> bool:
        return user.id in self.member_ids or user.id in self.manager_ids


@dataclass(frozen=True)
class Device:
    id: str
    name: str
    site_id: str
    in_service: bool = True
    max_power_w: int = 11_000
    public_key: bytes | None = None
    link_url: str | None = None  # its local link, which the driver's phone talks to


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    ends_at: datetime

    @classmethod
    def starting(cls, starts_at: datetime, duration: timedelta) -> "Slot | None":
        """[starts_at, starts_at + duration), or None when it leaves the bookable calendar:
        no such window can be booked, or even compared in every time zone."""
        try:
            ends_at = starts_at + duration
        except OverflowError:  # past year 9999 or before year 1
            return None
        earliest, latest = min(starts_at, ends_at), max(starts_at, ends_at)
        if earliest < CALENDAR_START or latest > CALENDAR_END:
            return None
        return cls(starts_at, ends_at)

    def overlaps(self, other: "Slot") -> bool:
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at

    @property
    def duration(self) -> timedelta:
        return self.ends_at - self.starts_at


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


@dataclass(frozen=True)
class UsageRequest:
    id: str
    user_id: str
    device_id: str
    site_id: str
    slot: Slot
    status: Status
    created_at: datetime
    reasons: tuple[Reason, ...] = ()
    energy_wh: float | None = None
    decided_by: str | None = None
    note: str | None = None
    permit_id: str | None = field(default=None)
    # Its permit was withdrawn, and may still work on an offline charger: see holds_slot.
    revocation_pending: bool = False

    def moved_to(self, status: Status, **changes: object) -> "UsageRequest":
        if status not in _TRANSITIONS.get(self.status, frozenset()):
            raise InvalidTransition(self.status.value, status.value)
        return replace(self, status=status, **changes)  # type: ignore[arg-type]

    @property
    def holds_slot(self) -> bool:
        return holds_slot(self.status, self.revocation_pending)


@dataclass(frozen=True)
class Permit:
    """The server's record of an issued permit; the signed bytes are the device's format."""

    id: str  # hex of the 16-byte cti
    request_id: str
    device_id: str
    user_id: str
    not_before: datetime
    expires_at: datetime
    issued_at: datetime
    max_energy_wh: int
    max_power_w: int
    token: bytes = b""
    revoked_at: datetime | None = None
    revoked_in_sequence: int | None = None  # the first revocation list of its device to name it
    revocation_confirmed_at: datetime | None = None  # the device confirmed holding that list
    kid: str | None = None  # the server key that signed it (base64url); None: before rotation
