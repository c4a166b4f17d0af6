"""The no-overlap rule under real concurrency: 20 overlapping asks, one winner.

All 20 slots contain a common minute, so any two of them overlap and at most one can hold
the device; each is ≤ 2 h, so the winner is approved automatically. The asks come from both
demo drivers on fresh accounts: with only one stored request each, the open-request limit
(3) never applies, which leaves the overlap as the only reason to deny.
"""

import asyncio
from datetime import timedelta

import httpx

from tests.http.live import LiveServer, gql, request_usage, soon

CONCURRENT = 20

HOLDERS = """
query Holders($id: ID!, $from: DateTime!, $to: DateTime!) {
  device(id: $id) { availability(from: $from, to: $to) { taken { startsAt endsAt } } }
}
"""
APPROVED = """
query Approved { usageRequests(status: APPROVED, first: 100) {
  edges { node { id device { id } startsAt endsAt permit { id } } }
} }
"""


async def test_twenty_overlapping_requests_end_with_exactly_one_approved(
    live_server: LiveServer,
) -> None:
    device_id = live_server.devices[0]["id"]
    base = soon(hours=2)  # inside the permit lead: the winner gets its permit at once
    # starts 0, 3, ..., 57 min after base, 90 min each: every slot covers [base+57, base+90).
    asks = [
        (("user", "user2")[i % 2], base + timedelta(minutes=3 * i), 90) for i in range(CONCURRENT)
    ]
    limits = httpx.Limits(max_connections=CONCURRENT, max_keepalive_connections=CONCURRENT)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        results = await asyncio.gather(
            *(
                request_usage(client, live_server, who, device_id, starts_at, minutes)
                for who, starts_at, minutes in asks
            )
        )

        approved = [r for r in results if r["__typename"] == "UsageRequest"]
        denied = [r for r in results if r["__typename"] == "RequestDenied"]
        assert len(approved) == 1, results
        assert len(denied) == CONCURRENT - 1, results
        winner = approved[0]
        assert winner["status"] == "APPROVED"
        assert winner["decision"]["outcome"] == "APPROVED"
        assert winner["permit"] is not None and winner["permit"]["token"]
        for result in denied:
            codes = {reason["code"] for reason in result["reasons"]}
            assert "slot_taken" in codes, result
            assert "too_many_open_requests" not in codes, result

        # The store agrees: one slot taken on the device in that stretch, one approved request.
        window = {
            "id": device_id,
            "from": (base - timedelta(hours=1)).isoformat(),
            "to": (base + timedelta(hours=4)).isoformat(),
        }
        holders = await gql(client, live_server, HOLDERS, window, who="manager")
        taken = holders["device"]["availability"]["taken"]
        assert len(taken) == 1, taken
        assert (taken[0]["startsAt"], taken[0]["endsAt"]) == (
            winner["startsAt"],
            winner["endsAt"],
        )

        listed = await gql(client, live_server, APPROVED, who="manager")
        on_device = [
            edge["node"]
            for edge in listed["usageRequests"]["edges"]
            if edge["node"]["device"]["id"] == device_id
        ]
        assert [node["id"] for node in on_device] == [winner["id"]]
        assert on_device[0]["permit"]["id"] == winner["permit"]["id"]
