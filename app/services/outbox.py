"""The outbox relay: marks what this process published, publishes what a dead process
left behind, prunes old rows; and the outbox figures /metrics shows.

Every process runs one. A row still unpublished GRACE_MS after its commit is presumed
orphaned (its writer died, or its bus was down): a relay leases it (FOR UPDATE SKIP
LOCKED on PostgreSQL, so relays never block each other), publishes it, marks it. A slow
writer may still publish its own too: the bus drops the duplicate by event id.
"""

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from app.services.events import EventBus
from app.store import outbox
from app.store.database import Database

if TYPE_CHECKING:
    from app.services.container import Services

log = logging.getLogger("powerpermit.outbox")

GRACE_MS = 2_000  # a writer publishes within milliseconds; after this, anyone may
LEASE_MS = 10_000  # a relay that claimed rows and died frees them after this
TICK_S = 0.5  # how often marks are written and orphans looked for
CLAIM_BATCH = 200
RETENTION_MS = 3_600_000  # published rows kept this long: catch-up reaches back that far
PRUNE_EVERY_S = 60.0
PRUNE_BATCH = 5_000


class OutboxRelay:
    def __init__(self, db: Database, bus: EventBus, die_before_publish: bool = False) -> None:
        self.db, self.bus = db, bus
        self.die_before_publish = die_before_publish  # test-only fault, see publishing.py
        self._published: list[int] = []

    def published(self, seq: int) -> None:
        """This process published row `seq`: marked in the next batch (one write per tick
        for all of them, instead of a second transaction per event)."""
        if seq:
            self._published.append(seq)

    async def run(self) -> None:
        last_prune = time.monotonic()
        while True:
            try:
                await self.tick()
                if time.monotonic() - last_prune > PRUNE_EVERY_S:
                    last_prune = time.monotonic()
                    await self.prune()
            except Exception:  # noqa: BLE001 - the next tick retries; rows wait meanwhile
                log.exception("outbox relay tick failed")
            await asyncio.sleep(TICK_S)

    async def tick(self) -> int:
        """Flush marks, then publish orphans; returns how many orphans were published."""
        await self.flush()
        cutoff = outbox.now_ms() - GRACE_MS
        if not await self.db.read(lambda conn: outbox.has_orphans(conn, cutoff)):
            return 0
        claimed = await self.db.write(
            lambda conn: outbox.claim_orphans(conn, cutoff, LEASE_MS, CLAIM_BATCH)
        )
        for event in claimed:
            try:
                await self.bus.publish(event)
            except Exception:  # noqa: BLE001 - its lease runs out and a relay retries
                log.warning("orphaned event %s not published; retried later", event.id)
                continue
            self.published(event.sequence)
        if claimed:
            log.info("published %d orphaned events", len(claimed))
        await self.flush()
        return len(claimed)

    async def flush(self) -> None:
        if not self._published:
            return
        seqs, self._published = self._published, []
        try:
            await self.db.write(lambda conn: outbox.mark_published(conn, seqs))
        except BaseException:
            self._published.extend(seqs)  # marked next time; meanwhile at most re-published
            raise

    async def prune(self) -> int:
        cutoff = outbox.now_ms() - RETENTION_MS
        pruned = 0
        while (batch := await self.db.write(lambda c: outbox.prune(c, cutoff, PRUNE_BATCH))) > 0:
            pruned += batch
            if batch < PRUNE_BATCH:
                break
        return pruned


async def outbox_backlog(services: "Services") -> int:
    """Events committed but not yet published (for /metrics)."""
    count, _ = await services.db.read(outbox.backlog)
    return count


async def event_lag_seconds(services: "Services") -> float:
    """Age of the oldest unpublished event, 0 when all are out (for /metrics): how late
    the slowest subscriber may hear of a committed change."""
    _, oldest = await services.db.read(outbox.backlog)
    return 0.0 if oldest is None else max(0.0, (outbox.now_ms() - oldest) / 1000)
