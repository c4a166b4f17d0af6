"""failed sign-ins per login and per address, shared by every server process

app/services/login_guard.py backs off and locks a key (a login, whether or not it exists,
or a client address) from its count of failures and the time of the last; a success
deletes the login's row. Rows quiet for longer than the guard remembers are pruned by
the last-failure index.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(80), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_login_failures_last_failure_ms", "login_failures", ["last_failure_ms"])


def downgrade() -> None:
    op.drop_table("login_failures")
