"""Asking for a slot: automatic approval, manager approval, denials, and bad input."""

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from app.services.container import Services
from app.store import tables as t
from device.protocol import TrustList, read_permit, verify_permit
from device.protocol.keys import b64url_decode
from device.protocol.text import from_text
from tests.conftest import Clock, GraphQLClient, iso
from tests.schema.queries import APPROVE, GET_REQUEST, REQUEST_USAGE


async def ask(gql: GraphQLClient, token: str, start: Any, minutes: int, device: str = "ch-1"):
    body = await gql(
        REQUEST_USAGE, {"device": device, "start": iso(start), "minutes": minutes}, token
    )
    assert "errors" not in body, body
    return body["data"]["requestUsage"]


async def row_counts(services: Services) -> dict[str, int]:
    def work(conn: Any) -> dict[str, int]:
        return {
            table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (t.usage_requests, t.permits, t.audit_log)
        }

    return await services.db.read(work)


async def test_a_short_slot_is_approved_at_once_with_a_permit_the_device_accepts(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock, services: Services
) -> None:
    start = clock.now + timedelta(minutes=10)
    result = await ask(gql, tokens["user"], start, 60)

    assert result["__typename"] == "UsageRequest"
    assert result["status"] == "APPROVED"
    assert result["decision"]["outcome"] == "APPROVED"
    assert result["device"] == {"id": "ch-1", "name": "Bay 1"}
    permit = result["permit"]
    trust = TrustList([services.signer.key.public_key])
    claims = verify_permit(
        b64url_decode(permit["token"]), trust, device_id="ch-1", now=int(start.timestamp())
    )
    assert claims.not_before == int(start.timestamp())
    assert claims.expires_at == int((start + timedelta(minutes=60)).timestamp())
    assert claims.user_id == "u1"
    assert claims.request_id == result["id"]
    assert claims.permit_id.hex() == permit["id"]
    assert read_permit(from_text(permit["qrText"], max_bytes=1024), trust) == claims


async def test_a_long_slot_waits_for_a_manager_who_approves_it(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock
) -> None:
    result = await ask(gql, tokens["user"], clock.now + timedelta(hours=1), 180)
    assert result["status"] == "NEEDS_MANAGER"
    assert result["permit"] is None
    assert [r["code"] for r in result["decision"]["reasons"]] == ["needs_manager_approval"]

    approved = await gql(APPROVE, {"id": result["id"]}, tokens["manager"])
    decided = approved["data"]["approveUsageRequest"]
    assert decided["status"] == "APPROVED"
    assert decided["permit"]["notBefore"] == result["startsAt"]

    seen = await gql(GET_REQUEST, {"id": result["id"]}, tokens["user"])
    assert seen["data"]["usageRequest"]["status"] == "APPROVED"


async def test_an_overlapping_slot_is_denied_with_the_overlap_reason(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock
) -> None:
    start = clock.now + timedelta(hours=1)
    assert (await ask(gql, tokens["user"], start, 60))["status"] == "APPROVED"
    denied = await ask(gql, tokens["user2"], start + timedelta(minutes=30), 60)
    assert denied["__typename"] == "RequestDenied"
    assert [r["code"] for r in denied["reasons"]] == ["slot_taken"]
    adjacent = await ask(gql, tokens["user2"], start + timedelta(minutes=60), 60)
    assert adjacent["status"] == "APPROVED"


async def test_every_failing_rule_is_reported_and_nothing_is_written(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock, services: Services
) -> None:
    before = await row_counts(services)
    denied = await ask(gql, tokens["user"], clock.now - timedelta(hours=1), 9 * 60)
    codes = {r["code"] for r in denied["reasons"]}
    assert {"start_in_past", "duration_too_long"} <= codes
    assert all(r["message"] for r in denied["reasons"])
    for start, minutes, code in [
        (clock.now + timedelta(days=30), 60, "beyond_horizon"),
        (clock.now + timedelta(hours=1), 0, "duration_invalid"),
        (clock.now + timedelta(hours=1), -30, "duration_invalid"),
        (clock.now + timedelta(hours=1), 10**8, "duration_invalid"),
    ]:
        denied = await ask(gql, tokens["user"], start, minutes)
        assert code in {r["code"] for r in denied["reasons"]}, (minutes, denied)
    unknown = await ask(gql, tokens["user"], clock.now + timedelta(hours=1), 60, "ch-404")
    assert [r["code"] for r in unknown["reasons"]] == ["device_not_found"]
    assert await row_counts(services) == before


async def test_a_driver_may_hold_only_three_open_requests(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock
) -> None:
    for hour in range(3):
        result = await ask(gql, tokens["user"], clock.now + timedelta(hours=hour + 1), 30)
        assert result["status"] == "APPROVED"
    fourth = await ask(gql, tokens["user"], clock.now + timedelta(hours=5), 30)
    assert [r["code"] for r in fourth["reasons"]] == ["too_many_open_requests"]


async def test_bad_input_gets_a_clear_error_without_a_stack_trace(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock, services: Services
) -> None:
    before = await row_counts(services)
    naive = (clock.now + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    body = await gql(
        REQUEST_USAGE, {"device": "ch-1", "start": naive, "minutes": 60}, tokens["user"]
    )
    assert "UTC offset" in body["errors"][0]["message"]
    body = await gql(
        REQUEST_USAGE, {"device": "ch-1", "start": "soon", "minutes": 60}, tokens["user"]
    )
    assert "ISO 8601" in body["errors"][0]["message"]
    body = await gql(
        REQUEST_USAGE, {"device": "ch-1", "start": iso(clock.now), "minutes": 2**40}, tokens["user"]
    )
    assert body["errors"] and body.get("data") is None
    response = await gql.raw("mutation { requestUsage(input: {deviceId: 1 ", token=tokens["user"])
    assert "Syntax Error" in response.json()["errors"][0]["message"]
    for text in (response.text, str(body)):
        assert "Traceback" not in text and ".py" not in text
    assert await row_counts(services) == before


async def test_approving_twice_is_an_invalid_transition_and_unknown_ids_are_not_found(
    gql: GraphQLClient, tokens: dict[str, str], clock: Clock
) -> None:
    result = await ask(gql, tokens["user"], clock.now + timedelta(hours=1), 180)
    await gql(APPROVE, {"id": result["id"]}, tokens["manager"])
    again = (await gql(APPROVE, {"id": result["id"]}, tokens["manager"]))["data"]
    assert again["approveUsageRequest"]["__typename"] == "InvalidTransition"
    assert again["approveUsageRequest"]["currentStatus"] == "APPROVED"
    for bad_id in ("999999", "abc", ""):
        missing = (await gql(APPROVE, {"id": bad_id}, tokens["manager"]))["data"]
        assert missing["approveUsageRequest"]["__typename"] == "NotFound"
