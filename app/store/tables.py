"""The schema as SQLAlchemy Core tables. Alembic migrations create it; nothing else does.

Times are stored as integer seconds since the epoch (UTC): portable across SQLite and
PostgreSQL, and the overlap checks compare plain integers.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from app.domain.model import SLOT_HOLDING

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class EpochSeconds(TypeDecorator[datetime]):
    """An aware UTC datetime stored as whole seconds since the epoch."""

    impl = sa.BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> int | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return int(value.timestamp())

    def process_result_value(self, value: int | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else datetime.fromtimestamp(value, UTC)


users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("login", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(128), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(256), nullable=True),
    # The page language the user chose ("en", "ja"); None: the browser's language decides.
    sa.Column("language", sa.String(8), nullable=True),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("created_at", EpochSeconds, nullable=False),
)

sites = sa.Table(
    "sites",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("max_duration_min", sa.Integer, nullable=False),
    sa.Column("auto_approve_min", sa.Integer, nullable=False),
    sa.Column("horizon_days", sa.Integer, nullable=False),
    sa.Column("start_grace_s", sa.Integer, nullable=False),
    sa.Column("max_open_requests", sa.Integer, nullable=False),
    sa.Column("opens_at", sa.String(5), nullable=True),  # "HH:MM" local time
    sa.Column("closes_at", sa.String(5), nullable=True),
)

site_managers = sa.Table(
    "site_managers",
    metadata,
    sa.Column("site_id", sa.ForeignKey("sites.id"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), primary_key=True),
    sa.Index("ix_site_managers_user_id", "user_id"),  # what a person manages (0009)
)

site_members = sa.Table(
    "site_members",
    metadata,
    sa.Column("site_id", sa.ForeignKey("sites.id"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), primary_key=True),
    sa.Index("ix_site_members_user_id", "user_id"),  # where a person belongs (0009)
)

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("site_id", sa.ForeignKey("sites.id"), nullable=False, index=True),
    sa.Column("in_service", sa.Boolean, nullable=False),
    sa.Column("max_power_w", sa.Integer, nullable=False),
    sa.Column("public_key", sa.LargeBinary(32), nullable=True),
    sa.Column("revocation_sequence", sa.Integer, nullable=False, server_default="0"),
    sa.Column("link_url", sa.String(255), nullable=True),  # where phones reach its local link
)

usage_requests = sa.Table(
    "usage_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), nullable=False),
    sa.Column("device_id", sa.ForeignKey("devices.id"), nullable=False),
    sa.Column("site_id", sa.ForeignKey("sites.id"), nullable=False),
    sa.Column("starts_at", EpochSeconds, nullable=False),
    sa.Column("ends_at", EpochSeconds, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Column("created_at", EpochSeconds, nullable=False),
    sa.Column("decided_by", sa.ForeignKey("users.id"), nullable=True),
    sa.Column("note", sa.String(500), nullable=True),
    sa.Column("energy_wh", sa.Float, nullable=True),
    sa.Column("revocation_pending", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_usage_requests_device_window", "device_id", "starts_at", "ends_at"),
    sa.Index("ix_usage_requests_user_open", "user_id", "status", "ends_at"),
    # Newest first in one index walk, however many rows match (migration 0009):
    sa.Index("ix_usage_requests_site_queue", "site_id", "status", "id"),
    sa.Index("ix_usage_requests_site_newest", "site_id", "id"),
    sa.Index("ix_usage_requests_user_newest", "user_id", "id"),
    sa.Index("ix_usage_requests_status_starts", "status", "starts_at"),  # permits coming due
)


def holds_slot(table: sa.Table) -> sa.ColumnElement[bool]:
    """app.domain.model.holds_slot as SQL: the rows the no-overlap rule is about.

    Literal statuses (not bound parameters), so prepared statements can use it; migration
    0004's constraint says the same, and tests/store/test_slot_holding.py checks they agree.
    """
    statuses: list[sa.ColumnElement[str]] = [
        sa.literal_column(f"'{status.value}'") for status in sorted(SLOT_HOLDING)
    ]
    return sa.or_(table.c.status.in_(statuses), table.c.revocation_pending)


# The sweep's overdue rows (migration 0009): only slot-holding rows are in it. SQLite uses a
# partial index only for a query that repeats its condition, as UsageRequests.overdue does.
sa.Index(
    "ix_usage_requests_holding_ends",
    usage_requests.c.ends_at,
    sqlite_where=holds_slot(usage_requests),
    postgresql_where=holds_slot(usage_requests),
)


permits = sa.Table(
    "permits",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # hex of the cti
    sa.Column("request_id", sa.ForeignKey("usage_requests.id"), nullable=False, unique=True),
    sa.Column("device_id", sa.ForeignKey("devices.id"), nullable=False, index=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), nullable=False),
    sa.Column("not_before", EpochSeconds, nullable=False),
    sa.Column("expires_at", EpochSeconds, nullable=False),
    sa.Column("issued_at", EpochSeconds, nullable=False),
    sa.Column("max_energy_wh", sa.Integer, nullable=False),
    sa.Column("max_power_w", sa.Integer, nullable=False),
    sa.Column("token", sa.LargeBinary, nullable=False),
    sa.Column("revoked_at", EpochSeconds, nullable=True),
    sa.Column("revoked_in_sequence", sa.Integer, nullable=True),
    sa.Column("revocation_confirmed_at", EpochSeconds, nullable=True),
    # The server key that signed it (migration 0010); NULL for permits signed before key
    # rotation existed, all by the first key. `keys prune` reads the last expiry per kid.
    sa.Column("kid", sa.String(16), nullable=True),
    sa.Index("ix_permits_kid_expires", "kid", "expires_at"),
)

receipts = sa.Table(
    "receipts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("device_id", sa.ForeignKey("devices.id"), nullable=False),
    sa.Column("counter", sa.BigInteger, nullable=False),
    sa.Column("permit_id", sa.String(32), nullable=False, index=True),
    sa.Column("request_id", sa.Integer, nullable=True, index=True),  # a driver's history
    sa.Column("started_at", EpochSeconds, nullable=False),
    sa.Column("stopped_at", EpochSeconds, nullable=False),
    sa.Column("energy_wh", sa.Float, nullable=False),
    sa.Column("stop_reason", sa.String(32), nullable=False),
    sa.Column("token", sa.LargeBinary, nullable=False),
    sa.Column("received_at", EpochSeconds, nullable=False),
    # SHA-256 of the signed bytes: the one identity a receipt keeps across re-commissioning
    sa.Column("digest", sa.LargeBinary(32), nullable=False, unique=True),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", EpochSeconds, nullable=False, index=True),
    sa.Column("actor_id", sa.String(32), nullable=True),
    sa.Column("action", sa.String(48), nullable=False),
    sa.Column("entity", sa.String(32), nullable=False),
    sa.Column("entity_id", sa.String(64), nullable=False),
    sa.Column("before", sa.JSON, nullable=True),
    sa.Column("after", sa.JSON, nullable=True),
    # The site whose log shows the row (None: the thing it changed belongs to no site).
    sa.Column("site_id", sa.String(32), nullable=True),
    sa.Index("ix_audit_log_entity", "entity", "entity_id"),
    sa.Index("ix_audit_log_site_at", "site_id", "at"),
)


# Transactional outbox (app/store/outbox.py): an event row written in its state change's own
# transaction, published after the commit, or by any process's relay if the writer died.
event_outbox = sa.Table(
    "event_outbox",
    metadata,
    # The sequence: an INTEGER PRIMARY KEY on SQLite (a rowid alias, so it autoincrements)
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    # No unique index: a uuid4 is unique by construction, and a random key in a B-tree
    # dirties a page of its own on every insert; nothing looks rows up by it.
    sa.Column("event_id", sa.String(32), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # JSON of the event
    # Milliseconds since the epoch: the relay's grace period and the event lag are sub-second
    sa.Column("created_ms", sa.BigInteger, nullable=False, index=True),
    sa.Column("published_ms", sa.BigInteger, nullable=True),
    sa.Column("claimed_until_ms", sa.BigInteger, nullable=True),  # a relay's lease
    # The relay and the backlog look only at unpublished rows: a partial index keeps that
    # small however many published rows wait to be pruned.
    sa.Index(
        "ix_event_outbox_unpublished",
        "seq",
        sqlite_where=sa.text("published_ms IS NULL"),
        postgresql_where=sa.text("published_ms IS NULL"),
    ),
)


# Access that ends at once in every process (app/store/withdrawals.py, migration 0011): a
# withdrawn user, client or token (kind), read by every process's poller after the last seq
# it saw, and pruned once `until` has passed.
access_withdrawals = sa.Table(
    "access_withdrawals",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("kind", sa.String(8), nullable=False),  # "user", "client" or "token"
    sa.Column("subject", sa.String(64), nullable=False),  # a user id, client id or jti
    sa.Column("at", EpochSeconds, nullable=False),
    sa.Column("until", EpochSeconds, nullable=False, index=True),
)
# Set while `powerpermit user disable` holds (migration 0011); the password hash is kept.
users.append_column(sa.Column("disabled_at", EpochSeconds, nullable=True))


# OAuth2 (app/store/oauth.py, migration 0013). A client belongs to one site and acts through
# its service account (service_user_id); a public client has no secret. Codes, refresh
# tokens and secrets are stored only as SHA-256 hashes.
oauth_clients = sa.Table(
    "oauth_clients",
    metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("secret_hash", sa.String(64), nullable=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("site_id", sa.ForeignKey("sites.id"), nullable=False),
    sa.Column("scopes", sa.Text, nullable=False),  # space-separated (RFC 6749 §3.3)
    sa.Column("redirect_uris", sa.JSON, nullable=False),
    sa.Column("service_user_id", sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", EpochSeconds, nullable=False),
    sa.Column("revoked_at", EpochSeconds, nullable=True),
)

oauth_authorization_codes = sa.Table(
    "oauth_authorization_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(32), nullable=False),
    sa.Column("redirect_uri", sa.Text, nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("code_challenge", sa.String(128), nullable=False),
    sa.Column("code_challenge_method", sa.String(8), nullable=False),
    sa.Column("expires_at", EpochSeconds, nullable=False),
)

oauth_refresh_tokens = sa.Table(
    "oauth_refresh_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    # Every token rotated from one grant shares it: reuse of a rotated one revokes them all.
    sa.Column("family_id", sa.String(32), nullable=False, index=True),
    sa.Column("client_id", sa.String(64), nullable=False, index=True),
    sa.Column("user_id", sa.String(32), nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("issued_at", EpochSeconds, nullable=False),
    sa.Column("expires_at", EpochSeconds, nullable=False),
    sa.Column("rotated_at", EpochSeconds, nullable=True),
    sa.Column("revoked_at", EpochSeconds, nullable=True),
)


# Webhooks for integrators (app/store/webhooks.py, migration 0014). The secret is stored as
# is, unlike every other secret here: signing a delivery (HMAC-SHA256) needs the secret
# itself, not a hash of it. A deleted subscription keeps its row (disabled_at) so its
# deliveries' history stays readable.
webhook_subscriptions = sa.Table(
    "webhook_subscriptions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("site_id", sa.ForeignKey("sites.id"), nullable=False, index=True),
    sa.Column("owner_user_id", sa.ForeignKey("users.id"), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret", sa.String(64), nullable=False),
    sa.Column("events", sa.JSON, nullable=False),  # the event types it wants, a list
    sa.Column("created_at", EpochSeconds, nullable=False),
    sa.Column("disabled_at", EpochSeconds, nullable=True),
)

# One row per (subscription, request, event type): the unique key is what makes an outbox
# row read twice (a dispatcher taking over, a permit issued later) yield no second delivery.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("subscription_id", sa.ForeignKey("webhook_subscriptions.id"), nullable=False),
    sa.Column("event_id", sa.String(32), nullable=False),  # the outbox event's: stable
    sa.Column("request_id", sa.String(32), nullable=False),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # the exact body signed and sent
    sa.Column("status", sa.String(16), nullable=False),  # pending, delivered, failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", EpochSeconds, nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("delivered_at", EpochSeconds, nullable=True),
    sa.Column("created_at", EpochSeconds, nullable=False),
    sa.UniqueConstraint("subscription_id", "request_id", "event_type"),
    sa.Index("ix_webhook_deliveries_subscription_id_id", "subscription_id", "id"),
    # The sender looks only at pending rows coming due.
    sa.Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    ),
)

# Every attempt's outcome, for the integrator to see why a delivery failed.
webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("delivery_id", sa.ForeignKey("webhook_deliveries.id"), nullable=False, index=True),
    sa.Column("at", EpochSeconds, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),  # None: no answer (network error)
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("duration_ms", sa.Integer, nullable=False),
)

# How far the dispatcher has read the outbox (one row, name "outbox"); moved in the same
# transaction as the deliveries it made. The outbox's prune keeps rows after it.
webhook_cursor = sa.Table(
    "webhook_cursor",
    metadata,
    sa.Column("name", sa.String(16), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
)


# Failed sign-ins (app/store/login_failures.py, migration 0012): per key, a login ("login:"
# and a hash of it, whether or not it exists) or an address ("address:" and the address).
login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("key", sa.String(80), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    # Milliseconds since the epoch: the first back-off steps are a second or two long
    sa.Column("last_failure_ms", sa.BigInteger, nullable=False, index=True),
)
