"""GraphQL object types, each built from a domain object; resolvers stay thin."""

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from app.domain import model
from app.schema.context import Context
from app.services import devices
from app.services.errors import Invalid
from device.protocol.keys import b64url
from device.protocol.text import to_text

RequestStatus = strawberry.enum(
    Enum("RequestStatus", {s.value: s.value for s in model.Status}),
    description="Where a usage request is in its lifecycle.",
)
DecisionOutcome = strawberry.enum(
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
    _permit: strawberry.Private[model.Permit]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self._permit.id)

    @strawberry.field(description="base64url (no padding) of the permit's CBOR bytes.")
    def token(self) -> str:
        return b64url(self._permit.token)

    @strawberry.field(description="The `PP1:` text form for a QR code.")
    def qr_text(self) -> str:
        return to_text(self._permit.token)

    @strawberry.field
    def not_before(self) -> datetime:
        return self._permit.not_before

    @strawberry.field
    def expires_at(self) -> datetime:
        return self._permit.expires_at

    @strawberry.field
    def revoked(self) -> bool:
        return self._permit.revoked_at is not None

    @strawberry.field
    def max_energy_wh(self) -> int:
        return self._permit.max_energy_wh


@strawberry.type(description="A power output device (a charger).")
class Device:
    _device: strawberry.Private[model.Device]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self._device.id)

    @strawberry.field
    def name(self) -> str:
        return self._device.name

    @strawberry.field
    def site_id(self) -> strawberry.ID:
        return strawberry.ID(self._device.site_id)

    @strawberry.field
    def in_service(self) -> bool:
        return self._device.in_service

    @strawberry.field
    def max_power_w(self) -> int:
        return self._device.max_power_w

    @strawberry.field
    def commissioned(self) -> bool:
        return self._device.public_key is not None

    @strawberry.field(description="Free and taken slots between `from` and `to` (≤ 31 days).")
    async def availability(
        self,
        info: Info[Context, None],
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> Availability:
        try:
            found = await devices.availability(info.context.services, self._device.id, from_, to)
        except Invalid as err:
            raise GraphQLError(str(err)) from err
        return Availability(
            free=[Slot.from_domain(s) for s in found.free],
            taken=[Slot.from_domain(s) for s in found.taken],
        )


@strawberry.type(description="A driver's ask for a charging slot, and what became of it.")
class UsageRequest:
    _request: strawberry.Private[model.UsageRequest]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self._request.id)

    @strawberry.field
    def status(self) -> RequestStatus:  # type: ignore[valid-type]
        return RequestStatus[self._request.status.value]

    @strawberry.field
    def starts_at(self) -> datetime:
        return self._request.slot.starts_at

    @strawberry.field
    def ends_at(self) -> datetime:
        return self._request.slot.ends_at

    @strawberry.field
    def duration_minutes(self) -> int:
        return int(self._request.slot.duration.total_seconds() // 60)

    @strawberry.field
    def created_at(self) -> datetime:
        return self._request.created_at

    @strawberry.field
    def user_id(self) -> strawberry.ID:
        return strawberry.ID(self._request.user_id)

    @strawberry.field
    def energy_wh(self) -> float | None:
        return self._request.energy_wh

    @strawberry.field
    def note(self) -> str | None:
        return self._request.note

    @strawberry.field(description="What the rules, then a manager, decided.")
    def decision(self) -> Decision:
        request = self._request
        if request.permit_id is not None:
            outcome = "APPROVED"
        elif request.status is model.Status.REJECTED:
            outcome = "REJECTED"
        else:  # still waiting, or cancelled or expired before anyone decided
            outcome = "NEEDS_MANAGER"
        reasons = [Reason.from_domain(r) for r in request.reasons]
        return Decision(outcome=DecisionOutcome[outcome], reasons=reasons)

    @strawberry.field
    async def device(self, info: Info[Context, None]) -> Device | None:
        device = await info.context.device_loader.load(self._request.device_id)
        return Device(_device=device) if device else None

    @strawberry.field
    async def permit(self, info: Info[Context, None]) -> Permit | None:
        if self._request.permit_id is None:
            return None
        permit = await info.context.permit_loader.load(self._request.permit_id)
        return Permit(_permit=permit) if permit else None


def request_type(request: model.UsageRequest) -> UsageRequest:
    return UsageRequest(_request=request)


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
