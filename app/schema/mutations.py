"""Mutations: parse the input, call one service, map the result or its typed failure."""

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from enum import Enum
from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from app.domain import model
from app.schema.context import Context
from app.schema.errors import (
    FAILURES,
    Failure,
    InvalidInput,
    InvalidTransition,
    NotAllowed,
    NotFound,
    RequestDenied,
    attempt,
)
from app.schema.permissions import IsAuthenticated, user_of
from app.schema.rate_limits import address_of
from app.schema.types import (
    Device,
    Me,
    Permit,
    Reason,
    SitePolicy,
    TooManyAttempts,
    UsageRequest,
)
from app.schema.webhooks import WebhookMutations
from app.services import (
    accounts,
    chargers,
    devices,
    permits,
    policy,
    preferences,
    receipts,
    usage,
)
from app.services.errors import RateLimited
from app.services.rate_limits import retry_after_seconds
from device.protocol.keys import b64url

MAX_DURATION_MINUTES = 7 * 24 * 60  # beyond any policy; bigger values are input errors
MAX_RECEIPTS_PER_CALL = 100
MAX_POLICY_NUMBER = 10**6  # far beyond any bound of a policy; timedelta stays in range

RequestUsageResult = Annotated[UsageRequest | RequestDenied, strawberry.union("RequestUsageResult")]
DecisionResult = Annotated[
    UsageRequest | NotFound | NotAllowed | InvalidTransition | InvalidInput,
    strawberry.union("DecisionResult"),
]
# strawberry's stubs type only class-statement enums; this one is built from the domain's.
ReceiptStatus = strawberry.enum(  # type: ignore[call-overload]
    Enum("ReceiptStatus", {s: s for s in receipts.ReceiptStatus})
)


@strawberry.input
class RequestUsageInput:
    device_id: strawberry.ID
    starts_at: datetime
    duration_minutes: int


@strawberry.input
class RegisterDeviceInput:
    id: strawberry.ID
    name: str
    site_id: strawberry.ID
    public_key: str = strawberry.field(description="base64url of the raw Ed25519 public key")
    proof: str = strawberry.field(
        description="base64url proof that the device holds the key, as printed by "
        "`powerpermit-device init` or `powerpermit-device prove`"
    )
    link_url: str | None = strawberry.field(
        default=None,
        description="http(s) URL of the device's local link, which drivers' phones use; "
        "left out, a known device keeps the one it has",
    )


@strawberry.input(description="The whole of a site's policy as the manager sets it.")
class SitePolicyInput:
    site_id: strawberry.ID
    opens_at: str | None = strawberry.field(
        description="HH:MM in the site's time zone; null with closesAt null: around the clock."
    )
    closes_at: str | None
    max_duration_minutes: int
    auto_approve_minutes: int
    booking_horizon_days: int
    max_open_requests: int


@strawberry.type(description="The policy was not changed; every broken bound is listed.")
class PolicyRefused:
    reasons: list[Reason]


@strawberry.type
class RevokedPermit:
    permit: Permit
    usage_request: UsageRequest


@strawberry.type
class ReceiptResult:
    status: ReceiptStatus  # type: ignore[valid-type]
    reason: str | None
    permit_id: strawberry.ID | None
    usage_request_id: strawberry.ID | None
    energy_wh: float | None
    acknowledgement: str | None = strawberry.field(
        description="base64url of the server-signed receipt acknowledgement naming this "
        "receipt (null when INVALID): POST it to the device's /link/receipts/ack so the "
        "device may delete what the server now holds."
    )


@strawberry.type(description="A fresh bearer token for the person who signed in.")
class Session:
    token: str
    me: Me


@strawberry.type
class LoginFailed:
    message: str


LoginResult = Annotated[Session | LoginFailed | TooManyAttempts, strawberry.union("LoginResult")]
CollectPermitResult = Annotated[
    UsageRequest | RequestDenied | NotFound | NotAllowed, strawberry.union("CollectPermitResult")
]


@strawberry.type(description="The device confirmed holding a revocation list.")
class RevocationsConfirmed:
    device_id: strawberry.ID
    sequence: int
    released: list[UsageRequest] = strawberry.field(
        description="Withdrawn requests whose slots are free again: their permits can no "
        "longer charge on the device."
    )


ConfirmRevocationsResult = Annotated[
    RevocationsConfirmed | NotFound | InvalidInput, strawberry.union("ConfirmRevocationsResult")
]
RevokeResult = Annotated[
    RevokedPermit | NotFound | NotAllowed | InvalidTransition | InvalidInput,
    strawberry.union("RevokeResult"),
]
UpdateSitePolicyResult = Annotated[
    SitePolicy | PolicyRefused | NotFound | NotAllowed | InvalidInput,
    strawberry.union("UpdateSitePolicyResult"),
]


@strawberry.type(description="The language the pages now speak to this user.")
class MyLanguage:
    language: str


SetMyLanguageResult = Annotated[MyLanguage | InvalidInput, strawberry.union("SetMyLanguageResult")]
RegisterDeviceResult = Annotated[
    Device | NotFound | NotAllowed | InvalidInput, strawberry.union("RegisterDeviceResult")
]
UpdateChargerResult = Annotated[
    Device | NotFound | NotAllowed | InvalidInput, strawberry.union("UpdateChargerResult")
]


@strawberry.input(description="Only the fields given change; the others stay as they are.")
class UpdateChargerInput:
    id: strawberry.ID
    name: str | None = None
    link_url: str | None = strawberry.field(
        default=None, description="http(s) URL of its local link; an empty string removes it"
    )
    in_service: bool | None = None
    max_power_w: int | None = None


async def _decide(
    call: Callable[[], Awaitable[model.UsageRequest]], request_id: str
) -> UsageRequest | Failure:
    result = await attempt(call, request_id)
    return result if isinstance(result, FAILURES) else UsageRequest.from_domain(result)


@strawberry.type
class Mutation(WebhookMutations):
    """Anyone signed in may call these; what they may do is the services' decision, and a
    refusal comes back as a typed `NotAllowed` rather than a bare error."""

    @strawberry.mutation(description="Trade a login and password for a bearer token.")
    async def login(self, info: Info[Context, None], login: str, password: str) -> LoginResult:
        address = address_of(info.context)
        try:
            signed_in = await accounts.login(info.context.services, login, password, address)
        except RateLimited as refused:
            wait = retry_after_seconds(refused)
            if info.context.response is not None:
                info.context.response.headers["Retry-After"] = str(wait)
            return TooManyAttempts(message=str(refused), retry_after_seconds=wait)
        if signed_in is None:
            return LoginFailed(message="Unknown login or wrong password.")
        user, token = signed_in
        return Session(token=token, me=Me.from_domain(user))

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def request_usage(
        self, info: Info[Context, None], input: RequestUsageInput
    ) -> RequestUsageResult:
        if not -MAX_DURATION_MINUTES <= input.duration_minutes <= MAX_DURATION_MINUTES:
            reason = Reason(code="duration_invalid", message="That duration is out of range.")
            return RequestDenied(reasons=[reason])
        asked = await usage.request_usage(
            info.context.services,
            user_of(info),
            str(input.device_id),
            input.starts_at,
            timedelta(minutes=input.duration_minutes),
        )
        if asked.request is None:
            return RequestDenied(reasons=[Reason.from_domain(r) for r in asked.decision.reasons])
        # The answer usually selects the device and permit: hand them over, no extra reads.
        return UsageRequest.from_domain(asked.request, asked.device, asked.permit)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def approve_usage_request(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> DecisionResult:
        services, manager = info.context.services, user_of(info)
        return await _decide(lambda: usage.approve(services, manager, str(id)), str(id))

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def reject_usage_request(
        self, info: Info[Context, None], id: strawberry.ID, reason: str
    ) -> DecisionResult:
        services, manager = info.context.services, user_of(info)
        return await _decide(lambda: usage.reject(services, manager, str(id), reason), str(id))

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def cancel_usage_request(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> DecisionResult:
        services, user = info.context.services, user_of(info)
        return await _decide(lambda: usage.cancel(services, user, str(id)), str(id))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="A manager withdraws an approved request, before or after its permit "
        "was issued (`revokePermit` names the permit instead).",
    )
    async def revoke_usage_request(
        self, info: Info[Context, None], id: strawberry.ID, reason: str
    ) -> DecisionResult:
        services, manager = info.context.services, user_of(info)
        return await _decide(lambda: usage.revoke(services, manager, str(id), reason), str(id))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="The permit of your approved request, issued now if its window starts "
        "within 24 h (`permitAvailableAt`); the same permit on every call.",
    )
    async def collect_permit(
        self, info: Info[Context, None], request_id: strawberry.ID
    ) -> CollectPermitResult:
        services, user = info.context.services, user_of(info)
        try:
            result = await attempt(
                lambda: usage.collect_permit(services, user, str(request_id)), request_id
            )
        except usage.PermitNotIssued as err:
            return RequestDenied(reasons=[Reason.from_domain(err.reason)])
        if isinstance(result, FAILURES):
            return result  # type: ignore[return-value]  # NotFound or NotAllowed only
        return UsageRequest.from_domain(result.request, permit=result.permit)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Carry back the `confirmation` a device gave for a revocation list it "
        "applied (base64url, signed by the device): frees the slots of the permits it revoked.",
    )
    async def confirm_revocations(
        self, info: Info[Context, None], device_id: strawberry.ID, confirmation: str
    ) -> ConfirmRevocationsResult:
        services = info.context.services
        result = await attempt(
            lambda: permits.confirm_revocations(services, str(device_id), confirmation), device_id
        )
        if isinstance(result, FAILURES):
            return result  # type: ignore[return-value]  # NotFound or InvalidInput only
        return RevocationsConfirmed(
            device_id=device_id,
            sequence=result.sequence,
            released=[UsageRequest.from_domain(r) for r in result.released],
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def revoke_permit(
        self, info: Info[Context, None], permit_id: strawberry.ID, reason: str
    ) -> RevokeResult:
        services, manager = info.context.services, user_of(info)
        result = await attempt(
            lambda: permits.revoke_permit(services, manager, str(permit_id), reason), permit_id
        )
        if isinstance(result, FAILURES):
            return result
        permit, request = result
        return RevokedPermit(
            permit=Permit.from_domain(permit), usage_request=UsageRequest.from_domain(request)
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def register_device(
        self, info: Info[Context, None], input: RegisterDeviceInput
    ) -> RegisterDeviceResult:
        services, manager = info.context.services, user_of(info)
        result = await attempt(
            lambda: devices.register_device(
                services,
                manager,
                str(input.id),
                input.name,
                str(input.site_id),
                input.public_key,
                input.proof,
                input.link_url,
            ),
            input.site_id,
        )
        if isinstance(result, FAILURES):
            return result  # type: ignore[return-value]  # registering moves no request: no InvalidTransition
        return Device.from_domain(result)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="A manager of its site renames a charger, moves its link, takes it out of "
        "or back into service, or sets its maximum power; audited.",
    )
    async def update_charger(
        self, info: Info[Context, None], input: UpdateChargerInput
    ) -> UpdateChargerResult:
        services, manager = info.context.services, user_of(info)
        result = await attempt(
            lambda: chargers.update_charger(
                services,
                manager,
                str(input.id),
                name=input.name,
                link_url=input.link_url,
                in_service=input.in_service,
                max_power_w=input.max_power_w,
            ),
            input.id,
        )
        if isinstance(result, FAILURES):
            return result  # type: ignore[return-value]  # an edit moves no request
        return Device.from_domain(result)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="A manager sets a site's policy; audited, and in force for the next request.",
    )
    async def update_site_policy(
        self, info: Info[Context, None], input: SitePolicyInput
    ) -> UpdateSitePolicyResult:
        services, manager = info.context.services, user_of(info)
        numbers = (
            input.max_duration_minutes,
            input.auto_approve_minutes,
            input.booking_horizon_days,
            input.max_open_requests,
        )
        if any(abs(n) > MAX_POLICY_NUMBER for n in numbers):
            return InvalidInput(message="A number of the policy is out of range.")

        async def update() -> model.Site | PolicyRefused:
            try:
                return await policy.update_site_policy(
                    services,
                    manager,
                    str(input.site_id),
                    opens_at=policy.clock_time(input.opens_at),
                    closes_at=policy.clock_time(input.closes_at),
                    max_duration=timedelta(minutes=input.max_duration_minutes),
                    auto_approve_up_to=timedelta(minutes=input.auto_approve_minutes),
                    booking_horizon=timedelta(days=input.booking_horizon_days),
                    max_open_requests=input.max_open_requests,
                )
            except policy.PolicyRefused as refused:  # before `attempt` makes it InvalidInput
                return PolicyRefused(reasons=[Reason.from_domain(r) for r in refused.reasons])

        result = await attempt(update, input.site_id)
        if isinstance(result, model.Site):
            return SitePolicy.from_domain(result)
        return result  # type: ignore[return-value]  # never InvalidTransition: it moves no request

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="The pages' language for the caller in every browser: "
        + ", ".join(preferences.LANGUAGES),
    )
    async def set_my_language(
        self, info: Info[Context, None], language: str
    ) -> SetMyLanguageResult:
        services, user = info.context.services, user_of(info)
        result = await attempt(lambda: preferences.set_language(services, user, language), user.id)
        if isinstance(result, str):
            return MyLanguage(language=result)
        return result  # type: ignore[return-value]  # only InvalidInput: it moves no request

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Receipts a phone carried home from a device; idempotent per receipt.",
    )
    async def submit_receipts(
        self, info: Info[Context, None], tokens: list[str]
    ) -> list[ReceiptResult]:
        if len(tokens) > MAX_RECEIPTS_PER_CALL:
            raise GraphQLError(f"At most {MAX_RECEIPTS_PER_CALL} receipts per call.")
        outcomes = await receipts.submit_receipts(info.context.services, tokens)
        return [
            ReceiptResult(
                status=ReceiptStatus[o.status.value],
                reason=o.reason,
                permit_id=strawberry.ID(o.receipt.permit_id.hex()) if o.receipt else None,
                usage_request_id=strawberry.ID(o.request_id) if o.request_id else None,
                energy_wh=o.receipt.energy_wh if o.receipt else None,
                acknowledgement=b64url(o.acknowledgement) if o.acknowledgement else None,
            )
            for o in outcomes
        ]
