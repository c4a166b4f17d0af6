"""A page of 50 requests costs a fixed handful of SQL statements, not one per row."""

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.domain.model import Device, Slot, Status, UsageRequest
from app.services.container import Services
from app.store.permits import Permits
from app.store.requests import UsageRequests
from tests.conftest import GraphQLClient
from tests.schema.queries import LIST_REQUESTS


async def add_approved_requests(services: Services, first_start: datetime, count: int) -> None:
    def work(conn: Any) -> None:
        for i in range(count):
            start = first_start + timedelta(hours=i)
            device = Device(f"ch-{i % 3 + 1}", "Bay", "site-1")
            request = UsageRequest(
                id="",
                user_id="u1",
                device_id=device.id,
                site_id="site-1",
                slot=Slot(start, start + timedelta(minutes=30)),
                status=Status.APPROVED,
                created_at=first_start,
            )
            request = replace(request, id=UsageRequests(conn).add(request))
            Permits(conn).add(services.signer.issue(request, device, first_start))

    await services.db.write(work)


async def page_cost(services: Services, gql: GraphQLClient, token: str) -> tuple[int, int]:
    await gql("{ me { id } }", token=token)  # the token lookup is cached from here on
    statements: list[str] = []

    def record(*args: Any) -> None:
        if not args[2].startswith("BEGIN"):  # transaction control is not a query
            statements.append(args[2])

    engine = services.db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        body = await gql(LIST_REQUESTS, {"first": 50}, token)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    edges = body["data"]["usageRequests"]["edges"]
    assert all(e["node"]["permit"]["token"] and e["node"]["device"]["id"] for e in edges)
    return len(edges), len(statements)


async def test_a_page_of_fifty_requests_with_devices_and_permits_costs_few_statements(
    gql: GraphQLClient, services: Services, tokens: dict[str, str]
) -> None:
    now = services.clock()
    await add_approved_requests(services, now + timedelta(hours=1), 2)
    small_rows, small_cost = await page_cost(services, gql, tokens["manager"])
    await add_approved_requests(services, now + timedelta(days=1), 60)
    rows, cost = await page_cost(services, gql, tokens["manager"])

    assert (small_rows, rows) == (2, 50)
    assert cost == small_cost, "statements grew with the page size"
    assert cost <= 4  # managed sites, the page, its devices, its permits
