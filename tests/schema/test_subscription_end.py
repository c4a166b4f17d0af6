"""A refused watch ends: its stream finishes and it leaves nothing listening on the bus.

Checked in process and without a clock: a subscription that kept listening after showing
`null` would pass any "nothing arrives within a second" test, yet hold its queue forever.
"""

from datetime import timedelta
from typing import Any

from strawberry.types import ExecutionResult

from app.domain.model import Role, User
from app.schema import schema
from app.schema.context import Context
from app.services.container import Services
from app.services.events import InProcessBus
from tests.conftest import Clock, GraphQLClient
from tests.schema.queries import APPROVE
from tests.schema.test_request_usage import ask

UPDATED = "subscription ($id: ID!) { usageRequestUpdated(id: $id) { id status } }"
DRIVER = User("u1", "user", "Udo Driver", Role.USER)
OWNER = User("u2", "user2", "Uma Driver", Role.USER)


async def watch(services: Services, user: User, request_id: str) -> Any:
    stream = await schema.subscribe(UPDATED, {"id": request_id}, Context(services, user))
    assert not isinstance(stream, ExecutionResult), stream
    return stream


async def test_a_watch_of_someone_elses_request_ends_and_stops_listening(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock, services: Services
) -> None:
    bus = services.bus
    assert isinstance(bus, InProcessBus)
    theirs = await ask(gql, tokens["user2"], clock.now + timedelta(hours=2), 180)
    topic = f"request:{theirs['id']}"

    stream = await watch(services, DRIVER, theirs["id"])
    first = await anext(stream)
    assert first.data == {"usageRequestUpdated": None}
    assert [r async for r in stream] == []  # the stream is over: nothing can follow
    assert topic not in bus.topics()

    # Their owner's watch, by contrast, stays on the bus and sees the approval.
    own = await watch(services, OWNER, theirs["id"])
    assert (await anext(own)).data == {
        "usageRequestUpdated": {"id": theirs["id"], "status": "NEEDS_MANAGER"}
    }
    assert topic in bus.topics()
    approved = await gql(APPROVE, {"id": theirs["id"]}, tokens["manager"])
    assert approved["data"]["approveUsageRequest"]["status"] == "APPROVED"
    assert (await anext(own)).data["usageRequestUpdated"]["status"] == "APPROVED"
    await own.aclose()
    assert topic not in bus.topics()
