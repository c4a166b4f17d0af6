"""Approval-queue events delivered by one task per topic (app/schema/broadcast.py), over
real websockets: an operation the client completed gets nothing more while the others on
its socket and on other sockets still do, and a socket that went away stops nobody."""

import asyncio
import socket
import sqlite3

import httpx
from websockets.asyncio.client import connect

from tests.http.live import GraphQLSocket, LiveServer, gql, request_usage, slot_start
from tests.http.test_subscriptions import CANCEL, QUEUE, next_payload, open_socket, signed_in

MINUTES = 180  # over the demo's automatic limit: the request waits for a manager
# A socket nobody reads: its 100 operations (the most one socket may hold) each select
# the device 30 times (the most aliases allowed), ~5 kB a frame, ~0.5 MB an event; a score
# of events overflow what the kernel (up to 4 MB here) and the server buffer for it.
STALLED_OPERATIONS = 100
EVENTS = 24
DEVICE = "device { id name siteId inService maxPowerW commissioned }"
BULKY = f"subscription {{ approvalQueue {{ {' '.join(f'd{n}: {DEVICE}' for n in range(30))} }} }}"


async def test_completed_and_closed_subscribers_get_nothing_more_and_stop_nobody(
    live_server: LiveServer,
) -> None:
    devices = live_server.devices
    async with (
        httpx.AsyncClient(timeout=30) as client,
        open_socket(live_server) as one,
        open_socket(live_server) as two,
    ):
        first = await signed_in(one, live_server, "manager")
        second = await signed_in(two, live_server, "manager")
        for op_id in ("a", "b"):
            await first.send({"id": op_id, "type": "subscribe", "payload": {"query": QUEUE}})
        await second.send({"id": "c", "type": "subscribe", "payload": {"query": QUEUE}})
        gone = await open_socket(live_server)
        leaving = await signed_in(gone, live_server, "manager")
        await leaving.send({"id": "d", "type": "subscribe", "payload": {"query": QUEUE}})

        asked = await request_usage(
            client, live_server, "user", devices[0]["id"], slot_start(days=5), MINUTES
        )
        assert asked["status"] == "NEEDS_MANAGER", asked
        got = {(await first.receive())["id"], (await first.receive())["id"]}
        assert got == {"a", "b"}
        assert (await next_payload(second, "c"))["approvalQueue"]["id"] == asked["id"]
        assert (await next_payload(leaving, "d"))["approvalQueue"]["id"] == asked["id"]

        # The client completes "a" and drops its third socket without a goodbye.
        await first.send({"id": "a", "type": "complete"})
        gone.transport.abort()

        again = await request_usage(
            client, live_server, "user", devices[1]["id"], slot_start(days=6), MINUTES
        )
        assert again["status"] == "NEEDS_MANAGER", again
        assert (await next_payload(first, "b"))["approvalQueue"]["id"] == again["id"]
        assert (await next_payload(second, "c"))["approvalQueue"]["id"] == again["id"]
        try:
            unexpected = await first.receive(timeout=0.5)
        except TimeoutError:
            return
        finally:
            for request in (asked, again):
                await gql(client, live_server, CANCEL, {"id": request["id"]}, who="user")
        raise AssertionError(f"a completed operation got another event: {unexpected}")


async def test_a_socket_that_stops_reading_delays_nobody_and_is_cut_off(
    live_server: LiveServer,
) -> None:
    """Many operations on one socket whose client reads nothing: its frames pile up in
    the server until it is cut off (its operations end with an error), while another
    socket gets every event as it comes."""
    devices = live_server.devices
    stalled_socket = socket.socket()
    stalled_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled_socket.connect(("127.0.0.1", int(live_server.ws_url.split(":")[2].split("/")[0])))
    async with (
        httpx.AsyncClient(timeout=30) as client,
        open_socket(live_server) as fast_connection,
        connect(
            live_server.ws_url,
            subprotocols=[GraphQLSocket.PROTOCOL],
            sock=stalled_socket,
            max_queue=1,
            open_timeout=10,
        ) as stalled_connection,
    ):
        fast = await signed_in(fast_connection, live_server, "manager")
        stalled = await signed_in(stalled_connection, live_server, "manager")
        await fast.send({"id": "fast", "type": "subscribe", "payload": {"query": QUEUE}})
        for n in range(STALLED_OPERATIONS):
            op = {"id": f"s{n}", "type": "subscribe", "payload": {"query": BULKY}}
            await stalled.send(op)
        await asyncio.sleep(0.5)  # every subscribe handled before the first event
        for _ in range(EVENTS):  # one request at a time, cancelled after its event
            start = slot_start(days=9)
            asked = await request_usage(
                client, live_server, "user2", devices[2]["id"], start, MINUTES
            )
            assert asked.get("status") == "NEEDS_MANAGER", asked
            seen = await next_payload(fast, "fast")
            assert seen["approvalQueue"]["id"] == asked["id"]
            await gql(client, live_server, CANCEL, {"id": asked["id"]}, who="user2")

        # Now read the stalled socket: past the frames it was sent, each of its operations
        # was ended with an error saying why.
        ended: set[str] = set()
        delivered = 0
        while len(ended) < STALLED_OPERATIONS:
            try:
                message = await stalled.receive(timeout=10)
            except TimeoutError:
                quiet = f"{delivered} frames, then {len(ended)} of {STALLED_OPERATIONS} ended"
                raise AssertionError(quiet) from None
            payload = message.get("payload")
            if message["type"] == "next" and not payload.get("errors"):
                assert message["id"] not in ended, message
                delivered += 1
                continue
            if message["type"] == "next":
                assert "fell too far behind" in payload["errors"][0]["message"], message
                ended.add(message["id"])
            else:
                assert message["type"] == "complete" and message["id"] in ended, message
        assert 0 < delivered < STALLED_OPERATIONS * EVENTS


async def test_a_manager_removed_from_the_site_gets_nothing_more_until_added_again(
    live_server: LiveServer,
) -> None:
    """Membership is checked per event and subscriber, also when one task delivers."""
    database = live_server.data_dir / "powerpermit.db"
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT site_id, user_id FROM site_managers").fetchall()

    def set_managers(manage: bool) -> None:
        with sqlite3.connect(database) as conn:
            if manage:
                conn.executemany("INSERT INTO site_managers VALUES (?, ?)", rows)
            else:
                conn.execute("DELETE FROM site_managers")

    async with (
        httpx.AsyncClient(timeout=30) as client,
        open_socket(live_server) as connection,
    ):
        manager = await signed_in(connection, live_server, "manager")
        await manager.send({"id": "q", "type": "subscribe", "payload": {"query": QUEUE}})
        await asyncio.sleep(0.5)  # subscribed while still a manager of the site
        set_managers(False)
        try:
            away = await request_usage(
                client,
                live_server,
                "user",
                live_server.devices[0]["id"],
                slot_start(days=7),
                MINUTES,
            )
            assert away.get("status") == "NEEDS_MANAGER", away
        finally:
            set_managers(True)
        back = await request_usage(
            client, live_server, "user", live_server.devices[0]["id"], slot_start(days=8), MINUTES
        )
        assert back.get("status") == "NEEDS_MANAGER", back
        # The first message is the one asked while a manager again, never the one before.
        assert (await next_payload(manager, "q"))["approvalQueue"]["id"] == back["id"]
        for request in (away, back):
            await gql(client, live_server, CANCEL, {"id": request["id"]}, who="user")
