"""a withdrawn permit holds its slot until its revocation is no longer pending

A cancelled or revoked request freed its slot at once, yet its permit still worked on an
offline charger: the next driver to book that slot was refused at the charger while the
first one charged. `revocation_pending` marks a withdrawn request whose permit was issued
and whose window has not yet passed; the no-overlap rule now covers those rows too, so
the store refuses to give their slots to anyone else. The condition below must say what
app.domain.model.holds_slot says (tests/store/test_slot_holding.py checks it on both
engines).

A device may confirm, signed with its own key, that it holds a list: `revoked_in_sequence`
names the first list of its device that carried a permit's revocation, and
`revocation_confirmed_at` when the device confirmed holding it (or a later one). Confirmed
permits free their slots and are left off later lists.

Existing withdrawn requests are not backfilled: some of their slots were already booked
again, and a constraint over overlapping rows could not be created.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

STATUSES = "('APPROVED', 'NEEDS_MANAGER')"


def old_holding(row: str = "") -> str:
    return f"{row}status IN {STATUSES}"


def new_holding(row: str = "") -> str:
    return f"({row}status IN {STATUSES} OR {row}revocation_pending)"


def upgrade() -> None:
    op.add_column(
        "usage_requests",
        sa.Column("revocation_pending", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    _replace_overlap_guard(new_holding)
    op.add_column("permits", sa.Column("revoked_in_sequence", sa.Integer(), nullable=True))
    op.add_column("permits", sa.Column("revocation_confirmed_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("permits", "revocation_confirmed_at")
    op.drop_column("permits", "revoked_in_sequence")
    _replace_overlap_guard(old_holding)
    op.drop_column("usage_requests", "revocation_pending")


def _replace_overlap_guard(holding: Callable[[str], str]) -> None:
    """The 0001 guard with `holding` as the condition: an exclusion constraint on
    PostgreSQL, triggers on SQLite (serialized by its single writer)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE usage_requests DROP CONSTRAINT usage_requests_no_overlap")
        op.execute(
            "ALTER TABLE usage_requests ADD CONSTRAINT usage_requests_no_overlap "
            "EXCLUDE USING gist (device_id WITH =, int8range(starts_at, ends_at) WITH &&) "
            f"WHERE ({holding('')})"
        )
        return
    overlap_exists = f"""
        EXISTS (SELECT 1 FROM usage_requests other
                WHERE other.device_id = NEW.device_id AND other.id IS NOT NEW.id
                  AND {holding("other.")}
                  AND other.starts_at < NEW.ends_at AND NEW.starts_at < other.ends_at)
    """
    for event in ("INSERT", "UPDATE"):
        name = f"usage_requests_no_overlap_{event.lower()}"
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(
            f"CREATE TRIGGER {name} BEFORE {event} ON usage_requests "
            f"WHEN {holding('NEW.')} AND {overlap_exists} "
            "BEGIN SELECT RAISE(ABORT, 'usage_requests_no_overlap'); END"
        )
