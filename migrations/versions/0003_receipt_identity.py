"""a receipt is identified by the digest of its signed bytes, not by (device, counter)

A re-commissioned charger (new key, counter back at 1) sent receipts whose counters the
old key had already used; keyed on (device_id, counter) the store took them for
duplicates and their energy was lost. The SHA-256 of the receipt's signed bytes names
exactly one receipt whatever key or counter produced it, and is what the server's
acknowledgement names back to the charger.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest", sa.LargeBinary(length=32), nullable=True))
    _backfill_digests()
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.alter_column("digest", existing_type=sa.LargeBinary(length=32), nullable=False)
        batch_op.drop_constraint("uq_receipts_device_id_counter", type_="unique")
        batch_op.create_unique_constraint("uq_receipts_digest", ["digest"])


def downgrade() -> None:
    # Receipts of a re-commissioned device may share (device, counter) with older ones:
    # keep the first of each pair, or the old constraint could not be created.
    receipts = sa.table(
        "receipts", sa.column("id", sa.Integer), sa.column("device_id"), sa.column("counter")
    )
    first = sa.select(sa.func.min(receipts.c.id)).group_by(receipts.c.device_id, receipts.c.counter)
    op.execute(receipts.delete().where(receipts.c.id.not_in(first)))
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_receipts_digest", type_="unique")
        batch_op.create_unique_constraint("uq_receipts_device_id_counter", ["device_id", "counter"])
        batch_op.drop_column("digest")


def _backfill_digests() -> None:
    receipts = sa.table(
        "receipts",
        sa.column("id", sa.Integer),
        sa.column("token", sa.LargeBinary),
        sa.column("digest", sa.LargeBinary),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(receipts.c.id, receipts.c.token)).all()
    for row_id, token in rows:
        digest = hashlib.sha256(bytes(token)).digest()
        conn.execute(receipts.update().where(receipts.c.id == row_id).values(digest=digest))
