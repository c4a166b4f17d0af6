"""Queries: what a person may see, in Relay-style pages where lists grow."""

import base64

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from app.schema.context import Context
from app.schema.permissions import IsAuthenticated
from app.schema.types import Device, Me, RequestStatus, UsageRequest
from app.schema.webhooks import WebhookQueries
from app.services import devices, permit_keys, permits, queries
from app.services.errors import NotFound as NotFoundError
from device.protocol.keys import b64url, key_id


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class UsageRequestEdge:
    cursor: str
    node: UsageRequest


@strawberry.type
class UsageRequestConnection:
    edges: list[UsageRequestEdge]
    page_info: PageInfo


@strawberry.type(description="A server-signed revocation list to carry to the device.")
class RevocationList:
    device_id: strawberry.ID
    sequence: int
    permit_ids: list[strawberry.ID]
    token: str = strawberry.field(description="base64url of the COSE_Sign1 bytes")


@strawberry.type(
    description="The server's signed list of permit keys for one device: carry it to the "
    "device's local link (POST /link/trust) after a key rotation."
)
class TrustList:
    device_id: strawberry.ID
    sequence: int = strawberry.field(description="The device takes only a higher one.")
    kids: list[str] = strawberry.field(description="The key ids it names (base64url).")
    token: str = strawberry.field(description="base64url of the COSE_Sign1 bytes")


def encode_cursor(request_id: str) -> str:
    return base64.urlsafe_b64encode(f"ur:{request_id}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        kind, _, value = text.partition(":")
        if kind != "ur" or not value.isdigit():
            raise ValueError(cursor)
        return int(value)
    except (ValueError, UnicodeDecodeError) as err:
        raise GraphQLError(f"Invalid cursor {cursor!r}.") from err


@strawberry.type
class Query(WebhookQueries):
    @strawberry.field(description="The signed-in person, or null.")
    def me(self, info: Info[Context, None]) -> Me | None:
        user = info.context.user
        return Me.from_domain(user) if user else None

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def devices(self, info: Info[Context, None]) -> list[Device]:
        user = info.context.user
        assert user is not None
        return [
            Device.from_domain(d) for d in await devices.list_devices(info.context.services, user)
        ]

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def device(self, info: Info[Context, None], id: strawberry.ID) -> Device | None:
        user = info.context.user
        assert user is not None
        found = await devices.get_device(info.context.services, user, str(id))
        return Device.from_domain(found) if found else None

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def usage_requests(
        self,
        info: Info[Context, None],
        status: RequestStatus | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> UsageRequestConnection:
        user = info.context.user
        assert user is not None
        if not 1 <= first <= queries.MAX_PAGE:
            raise GraphQLError(f"first must be between 1 and {queries.MAX_PAGE}.")
        page = await queries.list_requests(
            info.context.services,
            user,
            status=status.value if status else None,
            first=first,
            after_id=decode_cursor(after) if after else None,
        )
        edges = [
            UsageRequestEdge(cursor=encode_cursor(r.id), node=UsageRequest.from_domain(r))
            for r in page.requests
        ]
        end = edges[-1].cursor if edges else None
        return UsageRequestConnection(
            edges=edges, page_info=PageInfo(has_next_page=page.has_next, end_cursor=end)
        )

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def usage_request(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> UsageRequest | None:
        user = info.context.user
        assert user is not None
        found = await queries.get_request(info.context.services, user, str(id))
        return UsageRequest.from_domain(found) if found else None

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def revocation_list(
        self, info: Info[Context, None], device_id: strawberry.ID
    ) -> RevocationList | None:
        user = info.context.user
        assert user is not None
        try:
            signed = await permits.revocation_list(info.context.services, user, str(device_id))
        except NotFoundError:
            return None
        return RevocationList(
            device_id=device_id,
            sequence=signed.sequence,
            permit_ids=[strawberry.ID(p) for p in signed.permit_ids],
            token=b64url(signed.token),
        )

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def trust_list(
        self, info: Info[Context, None], device_id: strawberry.ID
    ) -> TrustList | None:
        user = info.context.user
        assert user is not None
        try:
            signed = await permit_keys.trust_list(info.context.services, user, str(device_id))
        except NotFoundError:
            return None
        return TrustList(
            device_id=device_id,
            sequence=signed.document.sequence,
            kids=[b64url(key_id(k)) for k in signed.document.keys],
            token=b64url(signed.token),
        )
