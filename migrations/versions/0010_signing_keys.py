"""permit-signing keys rotate: each permit records the kid that signed it

`powerpermit keys prune` drops a retired key once the last permit it signed has expired;
it reads the last expiry per kid through the (kid, expires_at) index. Permits from before
this migration keep kid NULL: one key signed them all, the keyring's first.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("permits", sa.Column("kid", sa.String(16), nullable=True))
    op.create_index("ix_permits_kid_expires", "permits", ["kid", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_permits_kid_expires", table_name="permits")
    with op.batch_alter_table("permits") as batch:  # SQLite drops columns by copying
        batch.drop_column("kid")
