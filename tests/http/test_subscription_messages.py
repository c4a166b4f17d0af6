"""Each subscriber's `next` message carries its own operation id and what it may see, also
when its payload is encoded once and shared (app/schema/ws_handler.py)."""

import json
from typing import Any

import httpx

from tests.http.live import GraphQLSocket, LiveServer, gql, request_usage, slot_start
from tests.http.test_subscriptions import APPROVE, QUEUE, UPDATED, open_socket, signed_in

MINUTES = 180  # over the demo's automatic limit: the request waits for a manager


async def subscribe(socket: GraphQLSocket, op_id: str, query: str, **variables: Any) -> None:
    payload = {"query": query, "variables": variables}
    await socket.send({"id": op_id, "type": "subscribe", "payload": payload})


async def raw_next(socket: GraphQLSocket) -> tuple[str, dict[str, Any]]:
    """The next message as sent (text) and parsed; it must be a `next` without errors."""
    raw = await socket.connection.recv()
    message: dict[str, Any] = json.loads(raw)
    assert message["type"] == "next" and not message["payload"].get("errors"), message
    return raw, message


async def test_subscribers_get_their_own_ids_and_views_of_one_event(
    live_server: LiveServer,
) -> None:
    devices = live_server.devices
    async with httpx.AsyncClient(timeout=30) as client:
        asked = await request_usage(
            client, live_server, "user", devices[0]["id"], slot_start(days=5), MINUTES
        )
        assert asked["status"] == "NEEDS_MANAGER", asked
        async with (
            open_socket(live_server) as first,
            open_socket(live_server) as second,
            open_socket(live_server) as third,
            open_socket(live_server) as fourth,
        ):
            driver = await signed_in(first, live_server, "user")
            same_driver = await signed_in(second, live_server, "user")
            manager = await signed_in(third, live_server, "manager")
            stranger = await signed_in(fourth, live_server, "user2")
            # The driver's two and the manager's watch the same request with the same
            # selection; the driver's first and the manager's even use the same id.
            await subscribe(driver, "watch", UPDATED, id=asked["id"])
            await subscribe(same_driver, "watch-too", UPDATED, id=asked["id"])
            await subscribe(manager, "watch", UPDATED, id=asked["id"])
            await subscribe(manager, "queue", QUEUE)
            await subscribe(stranger, "peek", UPDATED, id=asked["id"])
            for socket, op_id in ((driver, "watch"), (same_driver, "watch-too")):
                _, now = await raw_next(socket)
                assert now["id"] == op_id
                assert now["payload"]["data"]["usageRequestUpdated"]["status"] == "NEEDS_MANAGER"
            _, now = await raw_next(manager)
            assert now["id"] == "watch"
            _, peeked = await raw_next(stranger)  # not theirs: null, and the end
            assert peeked["payload"]["data"] == {"usageRequestUpdated": None}
            assert (await stranger.receive())["type"] == "complete"

            decided = await gql(client, live_server, APPROVE, {"id": asked["id"]}, who="manager")
            assert decided["approveUsageRequest"]["status"] == "APPROVED", decided

            raw_driver, for_driver = await raw_next(driver)
            raw_same, for_same = await raw_next(same_driver)
            _, for_manager = await raw_next(manager)
            assert (for_driver["id"], for_same["id"], for_manager["id"]) == (
                "watch",
                "watch-too",
                "watch",
            )
            approved = for_driver["payload"]["data"]["usageRequestUpdated"]
            assert approved["id"] == asked["id"] and approved["status"] == "APPROVED"
            # One driver's message is the other's but for the id: the shared encoding.
            assert raw_driver.replace('"watch"', '"watch-too"', 1) == raw_same
            assert for_manager["payload"] == for_driver["payload"]

            # A new request needing the manager reaches the manager's queue alone.
            waiting = await request_usage(
                client, live_server, "user", devices[1]["id"], slot_start(days=6), MINUTES
            )
            assert waiting["status"] == "NEEDS_MANAGER", waiting
            _, queued = await raw_next(manager)
            assert queued["id"] == "queue"
            assert queued["payload"]["data"]["approvalQueue"]["id"] == waiting["id"]
            for socket in (driver, same_driver):
                try:
                    unexpected = await socket.receive(timeout=0.5)
                except TimeoutError:
                    continue
                raise AssertionError(f"a driver got another request's event: {unexpected}")
