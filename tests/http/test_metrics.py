"""/metrics: Prometheus's text format, counts that move with what users do, and nothing
personal in it. In process for the counts; a real server and real websockets for the
open-subscriptions gauge."""

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from app.services.container import Services, build_services
from app.settings import Settings
from tests.conftest import Clock, GraphQLClient, iso
from tests.http.live import LiveServer, request_usage, soon
from tests.http.test_subscriptions import open_socket, signed_in
from tests.schema.queries import APPROVE, REQUEST_USAGE

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample by name and labels; parsing fails on anything not in the text format."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(client: httpx.AsyncClient) -> tuple[Samples, str]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text), response.text


async def ask(gql: GraphQLClient, token: str, start: Any, minutes: int) -> dict[str, Any]:
    body = await gql(
        REQUEST_USAGE, {"device": "ch-1", "start": iso(start), "minutes": minutes}, token
    )
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["requestUsage"]
    return result


async def test_operations_decisions_and_signing_are_counted(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock, demo: dict[str, Any]
) -> None:
    before, _ = await scrape(gql.client)

    start = clock.now + timedelta(hours=1)
    assert (await ask(gql, tokens["user"], start, 60))["status"] == "APPROVED"
    waiting = await ask(gql, tokens["user2"], start + timedelta(hours=2), 180)
    assert waiting["status"] == "NEEDS_MANAGER"
    denied = await ask(gql, tokens["user2"], start + timedelta(minutes=30), 60)
    assert [r["code"] for r in denied["reasons"]] == ["slot_taken"]
    approved = await gql(APPROVE, {"id": waiting["id"]}, tokens["manager"])
    assert approved["data"]["approveUsageRequest"]["status"] == "APPROVED"
    assert (await gql.raw("{ noSuchField }")).json()["errors"]

    after, text = await scrape(gql.client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ops = "powerpermit_graphql_operations_total"
    assert moved(ops, type="mutation", operation="requestUsage", outcome="ok") == 3
    assert moved(ops, type="mutation", operation="approveUsageRequest", outcome="ok") == 1
    assert moved(ops, type="", operation="(invalid)", outcome="invalid") == 1

    decisions = "powerpermit_decisions_total"
    assert moved(decisions, outcome="APPROVED", reason="none") == 1
    assert moved(decisions, outcome="NEEDS_MANAGER", reason="needs_manager_approval") == 1
    assert moved(decisions, outcome="REJECTED", reason="slot_taken") == 1
    assert moved(decisions, outcome="APPROVED", reason="by_manager") == 1

    # Two permits signed: the one approved at once, and the manager's approval (both
    # windows inside the permit lead).
    assert moved("powerpermit_permit_signing_seconds_count") == 2
    assert value(after, "powerpermit_permit_signing_seconds_sum") > 0

    # Nothing that names a person, a charger or a credential.
    personal = {*tokens.values(), "u1", "u2", "ch-1"}
    personal |= {demo[who]["login"] for who in ("manager", "user", "user2")}
    label_values = {v for (_, labels) in after for (_, v) in labels}
    assert not label_values & personal
    assert not any(token in text for token in tokens.values())


async def test_each_app_counts_its_own(
    gql: GraphQLClient, tokens: dict[str, str], settings: Settings, clock: Clock
) -> None:
    await ask(gql, tokens["user"], clock.now + timedelta(hours=1), 60)
    other: Services = build_services(settings)
    try:
        samples = parse((await other.metrics.exposition()).decode())
    finally:
        await other.db.dispose()
    assert value(samples, "powerpermit_decisions_total", outcome="APPROVED", reason="none") == 0


QUEUE = "subscription Queue { approvalQueue { id status } }"


async def test_open_subscriptions_follow_the_sockets(live_server: LiveServer) -> None:
    async def open_now(client: httpx.AsyncClient) -> float:
        response = await client.get("/metrics")
        return value(parse(response.text), "powerpermit_subscriptions_open")

    async def eventually(client: httpx.AsyncClient, expected: float) -> None:
        for _ in range(100):
            if await open_now(client) == expected:
                return
            await asyncio.sleep(0.05)
        assert await open_now(client) == expected

    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=10) as client:
        assert await open_now(client) == 0
        async with open_socket(live_server) as connection:
            socket = await signed_in(connection, live_server, "manager")
            first = await socket.subscribe(QUEUE)
            await socket.subscribe(QUEUE)
            await eventually(client, 2)
            await socket.send({"id": first, "type": "complete"})
            await eventually(client, 1)
        await eventually(client, 0)  # the socket closed: its subscription ended with it


async def test_the_outbox_backlog_drains_to_zero(live_server: LiveServer) -> None:
    """Each change's event row is published and marked within a relay tick or so: the
    backlog and the lag read from the outbox return to zero."""
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=10) as client:
        asked = await request_usage(
            client, live_server, "user2", live_server.devices[1]["id"], soon(hours=5), 30
        )
        assert asked["status"] == "APPROVED"
        for _ in range(100):
            samples = parse((await client.get("/metrics")).text)
            if value(samples, "powerpermit_outbox_backlog") == 0:
                break
            await asyncio.sleep(0.1)
        assert ("powerpermit_outbox_backlog", ()) in samples
        assert value(samples, "powerpermit_outbox_backlog") == 0
        assert value(samples, "powerpermit_event_lag_seconds") == 0
