"""open requests are counted from the index alone

Every request for a slot counts the asker's open requests (holding status, not yet
ended). With (user_id, status) SQLite read each matching row to test ends_at, a cost
that grew with the driver's history; with ends_at in the index the count never leaves
it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("usage_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_requests_user_status")
        batch_op.create_index(
            "ix_usage_requests_user_open", ["user_id", "status", "ends_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("usage_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_requests_user_open")
        batch_op.create_index("ix_usage_requests_user_status", ["user_id", "status"], unique=False)
