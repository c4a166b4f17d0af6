"""access ends at once in every process: withdrawals, and disabled users

A withdrawn user, client or token is a row in access_withdrawals; every server process
reads the rows after the last sequence it saw, by the seq primary key, every 0.5 s, and
prunes rows once `until` has passed (by its index). A disabled user keeps its password
hash, so enabling it again needs no new password.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_withdrawals",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("until", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_access_withdrawals_until", "access_withdrawals", ["until"])
    op.add_column("users", sa.Column("disabled_at", sa.BigInteger, nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+): copying the table, as batch mode does, fails on
    # SQLite while other tables' rows point at users and foreign keys are enforced.
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.drop_column("disabled_at")
    op.drop_table("access_withdrawals")
