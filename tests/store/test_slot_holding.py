"""One definition of a slot-holding request, and the store's no-overlap guard agrees with it.

app.domain.model.holds_slot says which requests hold their slot; migration 0004 wrote the
same condition into the PostgreSQL exclusion constraint and the SQLite triggers. Here
every (status, revocation_pending) pair is stored under an APPROVED request's window,
bypassing the services: the store must refuse the pair exactly when the domain says it
holds the slot, on insert and on update.
"""

from dataclasses import replace
from datetime import timedelta
from itertools import product

from sqlalchemy import text
from sqlalchemy.engine import Connection

from app.domain.model import Slot, Status, UsageRequest, holds_slot
from app.services.container import Services
from app.store.errors import SlotOverlap
from app.store.requests import UsageRequests

PAIRS = list(product(Status, (False, True)))


def test_a_withdrawn_request_with_a_pending_revocation_holds_its_slot() -> None:
    assert holds_slot(Status.APPROVED, False) and holds_slot(Status.NEEDS_MANAGER, False)
    assert holds_slot(Status.CANCELLED, True) and holds_slot(Status.REVOKED, True)
    assert not holds_slot(Status.CANCELLED, False) and not holds_slot(Status.REVOKED, False)


async def test_the_stores_guard_refuses_an_overlap_exactly_when_the_domain_says_held(
    services: Services, demo: dict
) -> None:
    now = services.clock()

    def request(hour: int, status: Status, pending: bool = False) -> UsageRequest:
        start = now + timedelta(hours=hour)
        slot = Slot(start, start + timedelta(hours=1))
        return UsageRequest("", "u1", "ch-1", "site-1", slot, status, created_at=now)

    async def add(made: UsageRequest) -> str:
        return await services.db.write(lambda conn: UsageRequests(conn).add(made))

    async def save(made: UsageRequest) -> None:
        await services.db.write(lambda conn: UsageRequests(conn).save(made))

    refused_on_insert, refused_on_update = set(), set()
    for hour, (status, pending) in enumerate(PAIRS):
        hour *= 2  # each pair its own stretch of the day
        await add(request(hour, Status.APPROVED))
        # Insert: the pair's row over the approved one.
        candidate = replace(request(hour, status), revocation_pending=pending)
        try:
            await add(candidate)
        except SlotOverlap:
            refused_on_insert.add((status, pending))
        # Update: a free row moved onto the pair, beside a fresh approved neighbour.
        neighbour = request(hour + 1, Status.APPROVED)
        await add(neighbour)
        free = request(hour + 1, Status.CANCELLED)
        free = replace(free, id=await add(free))
        try:
            await save(replace(free, status=status, revocation_pending=pending))
        except SlotOverlap:
            refused_on_update.add((status, pending))

    held = {(status, pending) for status, pending in PAIRS if holds_slot(status, pending)}
    assert refused_on_insert == held
    assert refused_on_update == held


async def test_the_migrations_guard_names_the_same_statuses_as_the_domain(
    services: Services,
) -> None:
    """The literal condition migration 0004 wrote, read back from the database itself."""

    def read(conn: Connection) -> str:
        if conn.dialect.name == "postgresql":
            return str(
                conn.execute(
                    text(
                        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE conname = 'usage_requests_no_overlap'"
                    )
                ).scalar_one()
            )
        return "\n".join(
            conn.execute(
                text("SELECT sql FROM sqlite_master WHERE name LIKE 'usage_requests_no_overlap%'")
            ).scalars()
        )

    definition = await services.db.read(read)
    assert "revocation_pending" in definition
    named = {status for status in Status if f"'{status.value}'" in definition}
    assert named == {s for s in Status if holds_slot(s, False)}
