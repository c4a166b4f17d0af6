"""indexes for a store of a million requests

Measured with bench/data_scale.py (1,000,000 requests over 1,000 chargers; figures and
plans in docs/benchmarks.md):

- The sweep looks for slot-holding requests whose window has passed. Without an index it
  read the whole table on every round; a partial index over the holding rows' ends keeps
  that to the overdue ones. Its condition must say what app.store.tables.holds_slot
  renders, word for word on SQLite, whose planner matches a partial index's WHERE term
  by term (`revocation_pending = 1` there; PostgreSQL proves it either way).
- Permits come due by start time among approved requests: (status, starts_at).
- A manager's queue is the newest requests of a site and status, the requests page the
  newest of a site: with the id in the index both engines read a page in order instead
  of sorting every matching row (108 ms for a site of 100,000 requests on SQLite).
- A driver's pages are the newest of their requests: (user_id, id).
- A driver's charging history joins receipts by request: receipts.request_id.
- Who belongs to which site is looked up by person on every read: (user_id) on both
  membership tables, whose primary keys start with the site.

Plain CREATE INDEX (no batch mode): SQLite needs no table copy for an index, and a copy
would drop the overlap triggers of migration 0004.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

HOLDING = {
    "sqlite": "status IN ('APPROVED', 'NEEDS_MANAGER') OR revocation_pending = 1",
    "postgresql": "status IN ('APPROVED', 'NEEDS_MANAGER') OR revocation_pending",
}


def upgrade() -> None:
    holding = sa.text(HOLDING[op.get_bind().dialect.name])
    op.create_index(
        "ix_usage_requests_holding_ends",
        "usage_requests",
        ["ends_at"],
        sqlite_where=holding,
        postgresql_where=holding,
    )
    op.create_index("ix_usage_requests_status_starts", "usage_requests", ["status", "starts_at"])
    op.drop_index("ix_usage_requests_site_status", table_name="usage_requests")
    op.create_index("ix_usage_requests_site_queue", "usage_requests", ["site_id", "status", "id"])
    op.create_index("ix_usage_requests_site_newest", "usage_requests", ["site_id", "id"])
    op.create_index("ix_usage_requests_user_newest", "usage_requests", ["user_id", "id"])
    op.create_index("ix_receipts_request_id", "receipts", ["request_id"])
    op.create_index("ix_site_members_user_id", "site_members", ["user_id"])
    op.create_index("ix_site_managers_user_id", "site_managers", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_site_managers_user_id", table_name="site_managers")
    op.drop_index("ix_site_members_user_id", table_name="site_members")
    op.drop_index("ix_receipts_request_id", table_name="receipts")
    op.drop_index("ix_usage_requests_user_newest", table_name="usage_requests")
    op.drop_index("ix_usage_requests_site_newest", table_name="usage_requests")
    op.drop_index("ix_usage_requests_site_queue", table_name="usage_requests")
    op.create_index("ix_usage_requests_site_status", "usage_requests", ["site_id", "status"])
    op.drop_index("ix_usage_requests_status_starts", table_name="usage_requests")
    op.drop_index("ix_usage_requests_holding_ends", table_name="usage_requests")
