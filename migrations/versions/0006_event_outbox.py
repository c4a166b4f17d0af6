"""events are written beside their state change (transactional outbox)

Each request change writes its event row in its own transaction; the row is published
after the commit, or by any process's relay if the writer died first, and pruned later.
Subscribers that lost their listener catch up from it by sequence.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("event_id", sa.String(32), nullable=False),  # a uuid4: no unique index
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("published_ms", sa.BigInteger, nullable=True),
        sa.Column("claimed_until_ms", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_event_outbox_created_ms", "event_outbox", ["created_ms"])
    op.create_index(
        "ix_event_outbox_unpublished",
        "event_outbox",
        ["seq"],
        sqlite_where=sa.text("published_ms IS NULL"),
        postgresql_where=sa.text("published_ms IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("event_outbox")
