"""Access that ends at once, in every server process: a disabled user, a revoked client, a
revoked access token (its jti).

`withdraw` writes an access_withdrawals row and applies it in this process at once. Every
process keeps the live rows in memory (`Withdrawals`, one per process, on Services) and
its poller reads the rows after the newest it saw every POLL_INTERVAL_S, one query on the
primary key, so another process refuses within a second. A withdrawn user's cached opaque
tokens are forgotten in every process as the row arrives.

A row matters until `until`: a jti until its token expires, a user or client until every
access token issued before the withdrawal has expired (LONGEST_ACCESS_TOKEN). Then it is
dropped from memory and pruned.
"""

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from app.services.token_cache import TokenCache
from app.store import withdrawals as store
from app.store.database import Database
from app.store.withdrawals import Withdrawal

if TYPE_CHECKING:
    from app.services.container import Services

log = logging.getLogger("powerpermit.withdrawals")

KINDS = frozenset({"user", "client", "token"})
POLL_INTERVAL_S = 0.5
LONGEST_ACCESS_TOKEN = timedelta(minutes=15)  # the access tokens' life (app/auth)
PRUNE_EVERY_S = 300.0
# On PostgreSQL a row with a smaller seq can commit after one with a larger: a seq missing
# below the newest seen is asked for again until it shows up or this long has passed (a
# rolled-back insert leaves a gap forever). A jump larger than MAX_GAP is not tracked.
GAP_PATIENCE_S = 10.0
MAX_GAP = 1000


class Withdrawals:
    """The live withdrawals, in memory: what `refuses` answers from, without a query."""

    def __init__(self) -> None:
        # kind -> subject -> (latest at, latest until)
        self._live: dict[str, dict[str, tuple[datetime, datetime]]] = {k: {} for k in KINDS}
        self._seen = 0  # the newest seq applied
        self._gaps: dict[int, float] = {}  # seq not seen yet -> monotonic time it was missed

    def refuses(
        self, user_id: str, client_id: str | None, jti: str | None, issued_at: datetime
    ) -> bool:
        """The token's jti is withdrawn, or its user or client was withdrawn at or after
        the token was issued."""
        if jti is not None and jti in self._live["token"]:
            return True
        user = self._live["user"].get(user_id)
        if user is not None and user[0] >= issued_at:
            return True
        client = self._live["client"].get(client_id) if client_id is not None else None
        return client is not None and client[0] >= issued_at

    def apply(self, row: Withdrawal) -> bool:
        """Returns False for a row applied already (or of a kind this version ignores)."""
        new = row.seq > self._seen or self._gaps.pop(row.seq, None) is not None
        if row.seq > self._seen:
            if row.seq - self._seen <= MAX_GAP:
                missed = time.monotonic()
                self._gaps.update((seq, missed) for seq in range(self._seen + 1, row.seq))
            self._seen = row.seq
        entries = self._live.get(row.kind)
        if not new or entries is None:
            return False
        at, until = entries.get(row.subject, (row.at, row.until))
        entries[row.subject] = (max(at, row.at), max(until, row.until))
        return True

    def expire(self, now: datetime) -> None:
        for entries in self._live.values():
            for subject in [s for s, (_, until) in entries.items() if until <= now]:
                del entries[subject]
        patience = time.monotonic() - GAP_PATIENCE_S
        for seq in [seq for seq, missed in self._gaps.items() if missed < patience]:
            del self._gaps[seq]

    async def load(self, db: Database, now: datetime) -> None:
        """At start: every row that still matters."""
        rows, newest = await db.read(lambda conn: store.live(conn, now))
        for row in rows:
            self.apply(row)
        self._seen = max(self._seen, newest)
        self._gaps = {seq: missed for seq, missed in self._gaps.items() if seq <= self._seen}

    async def poll(self, db: Database, tokens: TokenCache, now: datetime) -> None:
        """Applies the rows written since the last poll (by any process)."""
        since = min(self._gaps) - 1 if self._gaps else self._seen
        for row in await db.read(lambda conn: store.after(conn, since)):
            if self.apply(row) and row.kind == "user":
                tokens.forget_user(row.subject)
        self.expire(now)

    async def run(self, db: Database, tokens: TokenCache, clock: Callable[[], datetime]) -> None:
        """The poller, for as long as the app runs; also prunes rows nobody needs."""
        last_prune = time.monotonic()
        while True:
            await asyncio.sleep(POLL_INTERVAL_S)
            try:
                await self.poll(db, tokens, clock())
                if time.monotonic() - last_prune > PRUNE_EVERY_S:
                    last_prune = time.monotonic()
                    await db.write(functools.partial(store.prune, now=clock()))
            except Exception:  # noqa: BLE001 - the next poll asks again from the same seq
                log.exception("withdrawals poll failed")


async def withdraw(services: "Services", kind: str, subject: str, until: datetime) -> None:
    """Ends `subject`'s access now, here and (within a second) in every other process."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(sorted(KINDS))}")
    at = services.clock()
    seq = await services.db.write(lambda conn: store.insert(conn, kind, subject, at, until))
    # Stored in whole seconds: applied here as every other process will read it back.
    services.withdrawals.apply(
        Withdrawal(seq, kind, subject, at.replace(microsecond=0), until.replace(microsecond=0))
    )
    if kind == "user":
        services.tokens.forget_user(subject)
