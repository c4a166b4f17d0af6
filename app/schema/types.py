"""GraphQL object types, each built from a domain object; resolvers stay thin.

Fields are plain values filled in by `from_domain`: strawberry answers a plain field
straight from the attribute, while a resolver method costs ~10 µs of machinery per field
and per object (measured with bench/cost_breakdown.py). Resolvers remain only where a
field loads something (`device`, `permit`, `availability`).
"""

from datetime import datetime, timedelta
from enum import Enum
from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from app.domain import model
from app.domain.permits import permit_available_at
from app.schema.context import Context
from app.services import devices
from app.services.errors import Invalid, NotFound
from device.protocol.keys import b64url
from device.protocol.text import to_text

# strawberry's stubs type only class-statement enums; this one is built from the domain's.
RequestStatus = strawberry.enum(  # type: ignore[call-overload]
    Enum("RequestStatus", {s.value: s.value for s in model.Status}),
    description="Where a usage request is in its lifecycle.",
)
# strawberry's stubs type only class-statement enums; this one is built from the domain's.
DecisionOutcome = strawberry.enum(  # type: ignore[call-overload]
    Enum("DecisionOutcome", {o: o for o in ("APPROVED", "NEEDS_MANAGER", "REJECTED")})
)


@strawberry.type(description="Why a rule did not pass: a stable code and a message for people.")
class Reason:
    code: str
    message: str

    @classmethod
    def from_domain(cls, reason: model.Reason) -> "Reason":
        return cls(code=reason.code, message=reason.message)


@strawberry.type
class Decision:
    outcome: DecisionOutcome  # type: ignore[valid-type]
    reasons: list[Reason]


@strawberry.type
class Slot:
    starts_at: datetime
    ends_at: datetime

    @classmethod
    def from_domain(cls, slot: model.Slot) -> "Slot":
        return cls(starts_at=slot.starts_at, ends_at=slot.ends_at)


@strawberry.type
class Availability:
    free: list[Slot]
    taken: list[Slot]


@strawberry.type(description="A signed permit: carry `qrText` or `token` to the device.")
class Permit:
    id: strawberry.ID
    token: str = strawberry.field(description="base64url (no padding) of the permit's CBOR bytes.")
    qr_text: str = strawberry.field(description="The `PP1:` text form for a QR code.")
    not_before: datetime
    expires_at: datetime
    revoked: bool
    max_energy_wh: int

    @classmethod
    def from_domain(cls, permit: model.Permit) -> "Permit":
        return cls(
            id=strawberry.ID(permit.id),
            token=b64url(permit.token),
            qr_text=to_text(permit.token),
            not_before=permit.not_before,
            expires_at=permit.expires_at,
            revoked=permit.revoked_at is not None,
            max_energy_wh=permit.max_energy_wh,
        )


@strawberry.type(description="A power output device (a charger).")
class Device:
    id: strawberry.ID
    name: str
    site_id: strawberry.ID
    in_service: bool
    max_power_w: int
    commissioned: bool
    link_url: str | None = strawberry.field(
        description="Where phones reach the device's local link (http or https), if known."
    )

    @classmethod
    def from_domain(cls, device: model.Device) -> "Device":
        return cls(
            id=strawberry.ID(device.id),
            name=device.name,
            site_id=strawberry.ID(device.site_id),
            in_service=device.in_service,
            max_power_w=device.max_power_w,
            commissioned=device.public_key is not None,
            link_url=device.link_url,
        )

    @strawberry.field(description="Free and taken slots between `from` and `to` (≤ 31 days).")
    async def availability(
        self,
        info: Info[Context, None],
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> Availability:
        user = info.context.user
        assert user is not None  # the Device came from a query that required one
        try:
            found = await devices.availability(info.context.services, user, str(self.id), from_, to)
        except (Invalid, NotFound) as err:
            raise GraphQLError(str(err)) from err
        return Availability(
            free=[Slot.from_domain(s) for s in found.free],
            taken=[Slot.from_domain(s) for s in found.taken],
        )


@strawberry.type(description="A driver's ask for a charging slot, and what became of it.")
class UsageRequest:
    id: strawberry.ID
    status: RequestStatus  # type: ignore[valid-type]
    starts_at: datetime
    ends_at: datetime
    duration_minutes: int
    created_at: datetime
    user_id: strawberry.ID
    energy_wh: float | None
    note: str | None
    decision: Decision = strawberry.field(description="What the rules, then a manager, decided.")
    permit_available_at: datetime | None = strawberry.field(
        description="While the request waits for its permit: when `collectPermit` (or the "
        "server on its own) can issue it. Permits are issued at most 24 h before their "
        "window. Null once the permit exists or when none will be issued."
    )
    _request: strawberry.Private[model.UsageRequest]
    # Set when whoever built this answer already holds them (the use case that just wrote
    # them); otherwise the fields below load them in batches.
    _device: strawberry.Private[model.Device | None] = None
    _permit: strawberry.Private[model.Permit | None] = None

    @classmethod
    def from_domain(
        cls,
        request: model.UsageRequest,
        device: model.Device | None = None,
        permit: model.Permit | None = None,
    ) -> "UsageRequest":
        return cls(
            id=strawberry.ID(request.id),
            status=RequestStatus[request.status.value],
            starts_at=request.slot.starts_at,
            ends_at=request.slot.ends_at,
            duration_minutes=int(request.slot.duration.total_seconds() // 60),
            created_at=request.created_at,
            user_id=strawberry.ID(request.user_id),
            energy_wh=request.energy_wh,
            note=request.note,
            decision=_decision(request),
            permit_available_at=_permit_available_at(request),
            _request=request,
            _device=device if device is not None and device.id == request.device_id else None,
            _permit=permit if permit is not None and permit.id == request.permit_id else None,
        )

    @strawberry.field
    def device(self, info: Info[Context, None]) -> Device | None:
        # A plain (not async) resolver: a device at hand is answered without a detour
        # through the event loop; otherwise the loader's awaitable is what graphql awaits.
        if self._device is not None:
            return Device.from_domain(self._device)
        return _load_device(info, self._request.device_id)  # type: ignore[return-value]

    @strawberry.field
    def permit(self, info: Info[Context, None]) -> Permit | None:
        permit_id = self._request.permit_id
        if permit_id is None:
            return None
        if self._permit is not None:
            return Permit.from_domain(self._permit)
        return _load_permit(info, permit_id)  # type: ignore[return-value]


def _decision(request: model.UsageRequest) -> Decision:
    # Approved by the rules (no reasons: a request sent to a manager always has one) or by
    # a manager (decided_by, when not rejected); a permit may come later (PERMIT_LEAD).
    if request.status is model.Status.REJECTED:
        outcome = "REJECTED"
    elif request.permit_id is not None or not request.reasons or request.decided_by:
        outcome = "APPROVED"
    else:  # still waiting, or cancelled or expired before anyone decided
        outcome = "NEEDS_MANAGER"
    reasons = [Reason.from_domain(r) for r in request.reasons]
    return Decision(outcome=DecisionOutcome[outcome], reasons=reasons)


def _permit_available_at(request: model.UsageRequest) -> datetime | None:
    if request.permit_id is not None or request.status not in model.SLOT_HOLDING:
        return None
    return permit_available_at(request.slot)


async def _load_device(info: Info[Context, None], device_id: str) -> Device | None:
    device = await info.context.device_loader.load(device_id)
    return Device.from_domain(device) if device else None


async def _load_permit(info: Info[Context, None], permit_id: str) -> Permit | None:
    permit = await info.context.permit_loader.load(permit_id)
    return Permit.from_domain(permit) if permit else None


@strawberry.type(description="What a site's approval rules are set to; times are the site's.")
class SitePolicy:
    site_id: strawberry.ID
    timezone: str
    opens_at: str | None = strawberry.field(description="HH:MM; null: open around the clock.")
    closes_at: str | None
    max_duration_minutes: int
    auto_approve_minutes: int = strawberry.field(
        description="Longer slots wait for a manager's approval."
    )
    booking_horizon_days: int
    max_open_requests: int = strawberry.field(description="Open requests per driver.")

    @classmethod
    def from_domain(cls, site: model.Site) -> "SitePolicy":
        policy = site.policy
        return cls(
            site_id=strawberry.ID(site.id),
            timezone=site.timezone,
            opens_at=policy.opens_at.strftime("%H:%M") if policy.opens_at else None,
            closes_at=policy.closes_at.strftime("%H:%M") if policy.closes_at else None,
            max_duration_minutes=policy.max_duration // timedelta(minutes=1),
            auto_approve_minutes=policy.auto_approve_up_to // timedelta(minutes=1),
            booking_horizon_days=policy.booking_horizon.days,
            max_open_requests=policy.max_open_requests,
        )


@strawberry.type
class Me:
    id: strawberry.ID
    login: str
    display_name: str
    role: str

    @classmethod
    def from_domain(cls, user: model.User) -> "Me":
        return cls(
            id=strawberry.ID(user.id),
            login=user.login,
            display_name=user.display_name,
            role=user.role.value,
        )


@strawberry.type(
    description="Too many failed sign-ins for this login or from this address: no password "
    "was checked. Try again after `retryAfterSeconds` (also the HTTP Retry-After header)."
)
class TooManyAttempts:
    message: str
    retry_after_seconds: int
