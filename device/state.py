"""The on-device store: one SQLite file in WAL mode, one transaction per state change.

It holds everything a power loss must not lose: the active session (permit, energy so far),
used permit ids, energy counters, trusted time, the revocation sequence and revoked ids,
unsent receipts and the receipt counter.
"""

import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device.protocol.receipt import receipt_digest

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS used_permits (permit_id BLOB PRIMARY KEY);
CREATE TABLE IF NOT EXISTS revoked_permits (permit_id BLOB PRIMARY KEY);
CREATE TABLE IF NOT EXISTS receipts (
    counter INTEGER PRIMARY KEY, permit_id BLOB NOT NULL, token BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS session (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    permit BLOB NOT NULL,
    state TEXT NOT NULL,
    accepted_at REAL NOT NULL,
    started_at REAL,
    energy_wh REAL NOT NULL
);
"""


@dataclass(frozen=True)
class StoredSession:
    permit: bytes
    state: str
    accepted_at: float
    started_at: float | None
    energy_wh: float


class Store:
    """Not thread-safe by itself: the runtime serializes access with its lock."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)
        self._depth = 0

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all; nesting joins the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")
        finally:
            self._depth = 0

    def get(self, key: str, default: Any = None) -> Any:
        row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        self._db.execute(
            "INSERT INTO kv (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )

    def is_used(self, permit_id: bytes) -> bool:
        sql = "SELECT 1 FROM used_permits WHERE permit_id = ?"
        return self._db.execute(sql, (permit_id,)).fetchone() is not None

    def mark_used(self, permit_id: bytes) -> None:
        self._db.execute("INSERT OR IGNORE INTO used_permits VALUES (?)", (permit_id,))

    def revoked_ids(self) -> frozenset[bytes]:
        return frozenset(r[0] for r in self._db.execute("SELECT permit_id FROM revoked_permits"))

    def add_revoked(self, permit_ids: Iterable[bytes]) -> None:
        rows = [(p,) for p in permit_ids]
        self._db.executemany("INSERT OR IGNORE INTO revoked_permits VALUES (?)", rows)

    def load_session(self) -> StoredSession | None:
        row = self._db.execute(
            "SELECT permit, state, accepted_at, started_at, energy_wh FROM session"
        ).fetchone()
        return None if row is None else StoredSession(*row)

    def save_session(self, session: StoredSession) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO session VALUES (1, ?, ?, ?, ?, ?)",
            (
                session.permit,
                session.state,
                session.accepted_at,
                session.started_at,
                session.energy_wh,
            ),
        )

    def clear_session(self) -> None:
        self._db.execute("DELETE FROM session")

    def add_receipt(self, counter: int, permit_id: bytes, token: bytes) -> None:
        self._db.execute("INSERT INTO receipts VALUES (?, ?, ?)", (counter, permit_id, token))

    def receipts(self) -> list[tuple[int, bytes]]:
        rows = self._db.execute("SELECT counter, token FROM receipts ORDER BY counter")
        return [(int(c), bytes(t)) for c, t in rows]

    def delete_receipts(self, digests: Collection[bytes]) -> int:
        """Delete the receipts whose signed bytes hash to one of `digests`; how many went.

        The digest is computed, not stored: unsent receipts are few, and older state files
        need no new column.
        """
        gone = [c for c, token in self.receipts() if receipt_digest(token) in digests]
        self._db.executemany("DELETE FROM receipts WHERE counter = ?", [(c,) for c in gone])
        return len(gone)
