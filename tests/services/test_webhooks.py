"""Webhooks: statuses map to event types, deliveries are made from the outbox once and
atomically with the cursor, retried on the back-off schedule, refused for private
addresses, signed as documented; one dispatcher at a time on PostgreSQL."""

import asyncio
import hashlib
import hmac
import json
import socket
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app.domain.model import Status, User
from app.services import usage, webhooks
from app.services.container import Services
from app.services.errors import Invalid
from app.services.webhook_delivery import (
    BACKOFF,
    NOT_ENTITLED,
    RETENTION,
    WEBHOOK_LOCK,
    Ticked,
    WebhookWorker,
)
from app.services.webhook_events import EVENT_TYPES, event_type, signature
from app.services.webhook_urls import check_url, is_public, target
from app.store import outbox
from app.store import tables as t
from app.store.repositories import Users
from tests.conftest import Clock

ALL = ["request.submitted", "request.decided", "request.revoked", "request.completed"]


def closed_port_url() -> str:
    """A loopback URL nobody listens on: every post to it fails at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


async def person(services: Services, user_id: str) -> User:
    found = await services.db.read(lambda conn: Users(conn).get(user_id))
    assert found is not None
    return found


async def subscribe(services: Services, url: str, events: list[str] = ALL) -> str:
    """A subscription of the demo site's manager; private URLs allowed (a local target)."""
    services.webhook_allow_private = True
    created = await webhooks.create_webhook(
        services, await person(services, "m1"), "site-1", url, events
    )
    return created.subscription.id


async def deliveries(services: Services) -> list[Any]:
    table = t.webhook_deliveries
    query = sa.select(table).order_by(table.c.id)
    return await services.db.read(lambda conn: list(conn.execute(query)))


async def cursor(services: Services) -> int | None:
    table = t.webhook_cursor
    return await services.db.read(lambda conn: conn.execute(sa.select(table.c.seq)).scalar())


async def ask(services: Services, clock: Clock, hours: int, minutes: int) -> str:
    """The demo driver asks for ch-1; 30 minutes are approved at once, 180 wait."""
    driver = await person(services, "u1")
    asked = await usage.request_usage(
        services, driver, "ch-1", clock.now + timedelta(hours=hours), timedelta(minutes=minutes)
    )
    assert asked.request is not None, asked.decision
    return asked.request.id


def test_every_status_is_one_event_type() -> None:
    assert set(EVENT_TYPES) == set(Status)  # a new status without an event type fails here
    assert event_type("NEEDS_MANAGER") == "request.submitted"
    assert event_type("APPROVED") == event_type("REJECTED") == "request.decided"
    assert event_type("REVOKED") == "request.revoked"
    assert event_type("COMPLETED") == "request.completed"
    assert event_type("CANCELLED") == "request.cancelled"
    assert event_type("EXPIRED") == "request.expired"
    assert event_type("SOMETHING_NEW") is None


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"id":"e1"}'
    header = signature("whsec_k", 1_700_000_000, body)
    expected = hmac.new(b"whsec_k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert signature("whsec_other", 1_700_000_000, body) != header


async def test_a_request_change_yields_one_delivery_per_event_type(
    services: Services, demo: dict, clock: Clock
) -> None:
    await subscribe(services, closed_port_url())
    worker = WebhookWorker(allow_private=True)
    waiting = await ask(services, clock, 2, 180)
    at_once = await ask(services, clock, 6, 30)
    manager = await person(services, "m1")
    await usage.approve(services, manager, waiting)
    await worker.dispatch(services)
    await usage.revoke(services, manager, waiting, "maintenance")
    await worker.dispatch(services)
    await WebhookWorker(allow_private=True).dispatch(services)  # a takeover reads again

    made = {(d.request_id, d.event_type) for d in await deliveries(services)}
    assert made == {
        (waiting, "request.submitted"),
        (waiting, "request.decided"),
        (waiting, "request.revoked"),
        (at_once, "request.decided"),  # decided as it was made: no request.submitted
    }
    assert len(await deliveries(services)) == 4
    body = json.loads(next(d.payload for d in await deliveries(services)))
    assert body["type"] == "request.submitted"
    assert body["request"] == {
        "id": waiting,
        "siteId": "site-1",
        "deviceId": "ch-1",
        "userId": "u1",
        "status": "NEEDS_MANAGER",
    }


async def test_only_the_event_types_subscribed_to_and_only_the_site_s(
    services: Services, demo: dict, clock: Clock
) -> None:
    await subscribe(services, closed_port_url(), ["request.revoked"])
    await ask(services, clock, 2, 180)
    await ask(services, clock, 6, 30)
    await WebhookWorker(allow_private=True).dispatch(services)
    assert await deliveries(services) == []


async def test_deliveries_and_the_cursor_move_together_or_not_at_all(
    services: Services, demo: dict, clock: Clock
) -> None:
    await subscribe(services, closed_port_url())
    before = await cursor(services)
    await ask(services, clock, 2, 180)
    sqlite = services.db.works_on_loop
    refuse = (
        [
            "CREATE TRIGGER refuse BEFORE UPDATE ON webhook_cursor "
            "BEGIN SELECT RAISE(ABORT, 'cursor refused'); END"
        ]
        if sqlite
        else [
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'cursor refused'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse BEFORE UPDATE ON webhook_cursor "
            "FOR EACH ROW EXECUTE FUNCTION refuse()",
        ]
    )
    for statement in refuse:
        await services.db.write(lambda conn, s=statement: conn.execute(sa.text(s)))
    worker = WebhookWorker(allow_private=True)
    with pytest.raises(Exception, match="cursor refused"):
        await worker.dispatch(services)
    assert await deliveries(services) == []  # the deliveries went with the cursor's move
    assert await cursor(services) == before

    drop = "DROP TRIGGER refuse" + ("" if sqlite else " ON webhook_cursor")
    await services.db.write(lambda conn: conn.execute(sa.text(drop)))
    await worker.dispatch(services)
    await worker.dispatch(services)
    assert [d.event_type for d in await deliveries(services)] == ["request.submitted"]
    assert (await cursor(services) or 0) > (before or 0)


async def test_a_row_committed_after_a_later_one_was_read_is_not_lost(
    services: Services, demo: dict, clock: Clock
) -> None:
    """PostgreSQL numbers a row when it is written and shows it when it commits: the row
    numbered n+1 may commit after n+2 was read. Written here with explicit sequences."""
    await subscribe(services, closed_port_url())
    worker = WebhookWorker(allow_private=True)
    await worker.dispatch(services)
    last = await services.db.read(outbox.last_seq)

    async def write(seq: int, request_id: str) -> None:
        fields = {
            "request_id": request_id,
            "site_id": "site-1",
            "device_id": "ch-1",
            "user_id": "u1",
            "status": "NEEDS_MANAGER",
            "id": f"ev{seq}",
            "sequence": 0,
        }
        row = {"seq": seq, "event_id": f"ev{seq}", "payload": json.dumps(fields)}
        insert = sa.insert(t.event_outbox).values(**row, created_ms=outbox.now_ms())
        await services.db.write(lambda conn: conn.execute(insert))

    await write(last + 2, "9002")
    await worker.dispatch(services)
    await write(last + 1, "9001")  # the late commit, below the cursor now
    await worker.dispatch(services)
    assert sorted(d.request_id for d in await deliveries(services)) == ["9001", "9002"]


async def test_the_outbox_keeps_rows_the_dispatcher_has_not_read(
    services: Services, demo: dict, clock: Clock
) -> None:
    await subscribe(services, closed_port_url())
    await ask(services, clock, 2, 180)
    await ask(services, clock, 6, 30)
    long_ago = outbox.now_ms() - 10 * 3_600_000
    aged = sa.update(t.event_outbox).values(created_ms=long_ago, published_ms=long_ago)
    await services.db.write(lambda conn: conn.execute(aged))
    assert services.relay is not None
    assert await services.relay.prune() == 0  # published and old, but not read yet
    worker = WebhookWorker(allow_private=True)
    await worker.dispatch(services)
    assert len(await deliveries(services)) == 2
    # Read now, so pruned; but the row at the cursor stays: SQLite numbers the next row
    # after the highest left, which must stay above the cursor for the dispatcher to see.
    assert await services.relay.prune() == 1
    later = await ask(services, clock, 10, 180)
    await worker.dispatch(services)
    assert [d.request_id for d in await deliveries(services)][-1] == later


async def test_failed_posts_are_retried_on_the_back_off_schedule_then_given_up_and_pruned(
    services: Services, demo: dict, clock: Clock
) -> None:
    await subscribe(services, closed_port_url(), ["request.submitted"])
    await ask(services, clock, 2, 180)
    worker = WebhookWorker(allow_private=True)
    try:
        assert (await worker.tick(services)).sent == 1
        for wait in BACKOFF:
            [row] = await deliveries(services)
            assert row.status == "pending" and row.last_status_code is None
            assert row.next_attempt_at - clock.now == wait
            clock.advance(wait - timedelta(seconds=1))
            assert (await worker.tick(services)).sent == 0  # not due yet
            clock.advance(timedelta(seconds=1))
            assert (await worker.tick(services)).sent == 1
        [row] = await deliveries(services)
        assert row.status == "failed" and row.next_attempt_at is None
        assert row.attempts == len(BACKOFF) + 1
        assert "ConnectError" in row.last_error
        clock.advance(timedelta(days=2))
        assert (await worker.tick(services)).sent == 0  # failed stays failed
        assert await worker.prune(services) == 0  # kept for the integrator to see
        clock.advance(RETENTION)
        assert await worker.prune(services) == 1
        assert await deliveries(services) == []
        attempts = sa.select(sa.func.count()).select_from(t.webhook_attempts)
        assert await services.db.read(lambda conn: conn.execute(attempts).scalar()) == 0
    finally:
        await worker.aclose()


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",  # not https
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data",  # the cloud metadata address
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://224.0.0.1/hook",
        "https://0.0.0.0/hook",
        "https://user:pw@example.com/hook",
        "ftp://example.com/hook",
        "https:///hook",
    ],
)
async def test_urls_that_reach_this_server_s_own_network_are_refused(url: str) -> None:
    with pytest.raises(Invalid):
        await check_url(url, allow_private=False)


def test_public_addresses_are_public() -> None:
    assert is_public("93.184.216.34") and is_public("2606:2800:220:1::1")
    assert not is_public("100.64.0.1")  # carrier-grade NAT, shared address space
    assert not is_public("fd00::1") and not is_public("fe80::1%eth0")


async def test_a_delivery_connects_to_the_address_it_checked() -> None:
    """No second DNS lookup between the check and the connection: the URL carries the
    checked address, the Host header and the TLS name the host's."""
    pinned = await target("https://93.184.216.34:8443/hooks?x=1", allow_private=False)
    assert pinned.url == "https://93.184.216.34:8443/hooks?x=1"
    assert pinned.headers == {"Host": "93.184.216.34:8443"}
    assert pinned.extensions == {"sni_hostname": "93.184.216.34"}
    v6 = await target("https://[2606:2800:220:1::1]/hooks", allow_private=False)
    assert v6.url == "https://[2606:2800:220:1::1]/hooks"
    assert v6.headers == {"Host": "[2606:2800:220:1::1]"}


async def test_a_webhook_sends_nothing_once_its_owner_may_no_longer_see_the_site(
    services: Services, demo: dict, clock: Clock
) -> None:
    """A manager taken off the site (or disabled, or a revoked client's service account):
    what waits is given up unsent, and no new deliveries are made."""
    await subscribe(services, closed_port_url(), ["request.submitted"])
    await ask(services, clock, 2, 180)
    worker = WebhookWorker(allow_private=True)
    await worker.dispatch(services)
    managers = t.site_managers
    off = sa.delete(managers).where(managers.c.site_id == "site-1", managers.c.user_id == "m1")
    await services.db.write(lambda conn: conn.execute(off))
    try:
        assert (await worker.tick(services)).sent == 1
        await ask(services, clock, 6, 180)
        assert await worker.tick(services) == Ticked(made=0, sent=0)
    finally:
        await worker.aclose()
    [row] = await deliveries(services)
    assert (row.status, row.last_error, row.last_status_code) == ("failed", NOT_ENTITLED, None)


async def test_a_private_address_is_refused_again_when_delivering(
    services: Services, demo: dict, clock: Clock
) -> None:
    """Allowed when subscribed (a setting since turned off, or a DNS answer since
    changed): the delivery is not posted, and the attempt says why."""
    await subscribe(services, closed_port_url().replace("http:", "https:"), ["request.submitted"])
    await ask(services, clock, 2, 180)
    worker = WebhookWorker(allow_private=False)
    try:
        assert (await worker.tick(services)).sent == 1
    finally:
        await worker.aclose()
    [row] = await deliveries(services)
    assert row.status == "pending" and row.last_status_code is None
    assert "private network" in row.last_error


async def test_a_subscription_s_bad_input_is_refused_and_nothing_is_written(
    services: Services, demo: dict
) -> None:
    manager = await person(services, "m1")
    for url, events in [
        ("https://127.0.0.1/x", ALL),
        ("https://example.com/x", ["request.updated"]),
        ("https://example.com/x", []),
    ]:
        with pytest.raises(Invalid):
            await webhooks.create_webhook(services, manager, "site-1", url, events)
    assert await webhooks.webhooks(services, manager, "site-1") == []


@pytest.mark.parametrize("settings", ["postgresql"], indirect=True)
async def test_one_dispatcher_at_a_time_on_postgresql(
    services: Services, second_process: Services, demo: dict, clock: Clock
) -> None:
    await subscribe(services, closed_port_url(), ["request.submitted"])
    await ask(services, clock, 2, 180)
    other = WebhookWorker(allow_private=True)
    async with services.db.exclusive(WEBHOOK_LOCK) as mine:
        assert mine
        running = asyncio.create_task(other.run(second_process))
        await asyncio.sleep(1.5)  # three of its ticks, had it the lock
        assert await deliveries(services) == []
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    running = asyncio.create_task(other.run(second_process))
    try:
        for _ in range(50):
            if await deliveries(services):
                break
            await asyncio.sleep(0.1)
        assert [d.event_type for d in await deliveries(services)] == ["request.submitted"]
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
