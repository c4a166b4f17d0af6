"""a device's local-link URL is part of its record

The driver's phone posts permits to the charger's local link and syncs receipts over it;
the page learns where the link is from the charger's record. Optional: a charger reached
only by QR code has none.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("devices", sa.Column("link_url", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch:  # SQLite drops columns by copying
        batch.drop_column("link_url")
