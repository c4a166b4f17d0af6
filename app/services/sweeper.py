"""The background sweep: overdue requests expire and due permits are issued, in bounded
batches, off the request path, by one process at a time.

A store that was down for a while can hold a large backlog: with 1,000,000 requests of
which ~150,000 were overdue, one transaction for all of them kept the server from
answering anything (its first /healthz came 49 s after start). Here each transaction
handles at most SWEEP_BATCH rows, and on SQLite fewer, as many as fit in BATCH_BUDGET_S:
there a batch's statements run on the event loop itself (app/store/database.py), and 200
rows took it 40-300 ms depending on the machine's load, while every request waited.
Between batches the sweep rests as long as the batch took, so requests keep being served
while a backlog drains (bench/sweep_backlog.py). A batch's audit rows and its outbox
events go in one multi-row INSERT each, and its events are published together: one
statement (or NOTIFY) per row cost a round trip per row on PostgreSQL, where a loop busy
with requests made each wait its turn.

Several `powerpermit serve` processes share one PostgreSQL: an advisory lock lets one of
them sweep while the others skip the round, and the rows of a batch are taken with
FOR UPDATE SKIP LOCKED (app/store/requests.py), so a driver cancelling a request at that
moment neither waits for the sweep nor is overwritten by it.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from sqlalchemy.engine import Connection

from app.domain.events import UsageRequestChanged
from app.domain.model import UsageRequest
from app.services.container import Services
from app.services.publishing import event_for, publish_events
from app.services.usage import ISSUE_BATCH, expire_due, issue_due
from app.store import outbox

log = logging.getLogger("powerpermit.sweeper")

# Rows per transaction at most: bounds how long a batch holds its locks, and on PostgreSQL
# the burst of loop work its rows and events make at once (200 put a trivial query's p99 at
# 1-2.6x quiet while a backlog drained; 50: 0.95x, at ~490 rows/s: bench/sweep_backlog.py).
SWEEP_BATCH = 50
BATCH_BUDGET_S = 0.005  # per batch on SQLite: about a quiet request's p99
INTERVAL_S = 30.0  # between rounds once nothing is left
SWEEP_LOCK = 0x5050_5357  # the advisory lock key of "the sweep" ("PPSW"), fixed across versions


@dataclass
class Swept:
    """What one round did. `ran` is False when another process held the sweep."""

    ran: bool = True
    expired: int = 0
    issued: int = 0
    batches: int = 0


async def sweep(services: Services, batch: int = SWEEP_BATCH) -> Swept:
    """One round: expire everything overdue, then issue every due permit, a batch per
    transaction, resting between batches. Skipped when another process is sweeping."""
    async with services.db.exclusive(SWEEP_LOCK) as mine:
        if not mine:
            return Swept(ran=False)
        swept = Swept()
        pace = _Pace(batch, services.db.works_on_loop)
        while True:
            size, now = pace.size, services.clock()
            done = await pace.run(services, partial(expire_due, now=now, limit=size))
            swept.expired += done
            swept.batches += 1
            if done < size:
                break
            await pace.rest()
        pace = _Pace(min(batch, ISSUE_BATCH), services.db.works_on_loop)
        while True:
            size, now = pace.size, services.clock()
            done = await pace.run(services, partial(issue_due, services, now=now, limit=size))
            swept.issued += done
            swept.batches += 1
            if done < size:
                break
            await pace.rest()
        return swept


async def sweep_forever(services: Services, interval: float = INTERVAL_S) -> None:
    """The server's background task (app/main.py): a round now, then one every `interval`."""
    while True:
        try:
            swept = await sweep(services)
            if swept.expired or swept.issued:
                log.info(
                    "sweep: %d expired, %d permits issued in %d batches",
                    swept.expired,
                    swept.issued,
                    swept.batches,
                )
        except Exception:  # noqa: BLE001 - keep sweeping; the next round retries
            log.exception("sweep failed")
        await asyncio.sleep(interval)


class _Pace:
    """Batch sizes and the rest after each batch. The first batch is one row (the sweep
    starts with the server, and a first batch of 200 rows on SQLite held back its start);
    sizes double after each batch up to `most`. Where a batch's statements run on the event
    loop they double only after a batch that took under half of BATCH_BUDGET_S, and halve
    after one that ran over; elsewhere a batch mostly waits for the database server, which
    holds up no request."""

    def __init__(self, most: int, on_loop: bool) -> None:
        self.most = most
        self.size = 1
        self.on_loop = on_loop
        self.took = 0.0  # the last batch's statements
        self.published = 0.0  # and the publishing of its events
        self.wall = 0.0  # the whole batch, waits for the database included

    async def run(
        self, services: Services, body: Callable[[Connection], list[UsageRequest]]
    ) -> int:
        """One batch as one transaction with its outbox rows, its events published after
        the commit (as `write_then_publish` does, with the batch's events in one insert)."""
        events: list[UsageRequestChanged] = []

        def work(conn: Connection) -> list[UsageRequest]:
            # The statements alone: on SQLite the commit's fsync runs off the loop.
            started = time.perf_counter()
            try:
                changed = body(conn)
                # Assigned, not appended: a transaction run again leaves only its last events.
                events[:] = outbox.insert_many(conn, [event_for(row) for row in changed])
                return changed
            finally:
                self.took = time.perf_counter() - started

        began = time.perf_counter()
        changed = await services.db.write(work)
        # Each event as `publish_events` publishes it, all at once: a cross-process bus
        # sends the events waiting together in one round trip (its GroupSender), where
        # one after another cost a round trip each. They start in sequence order.
        started = time.perf_counter()
        await asyncio.gather(*(publish_events(services, [event]) for event in events))
        self.published = time.perf_counter() - started
        self.wall = time.perf_counter() - began
        done = len(changed)
        if self.on_loop and self.took > BATCH_BUDGET_S:
            self.size = max(1, self.size // 2)
        elif not self.on_loop or self.took < BATCH_BUDGET_S / 2:
            self.size = min(self.most, self.size * 2)
        return done

    async def rest(self) -> None:
        """As long as the batch held the loop, so the sweep gets at most about half of it
        and requests waiting in line go first. On SQLite that is its statements and its
        publishing. Elsewhere a batch's loop time is spread over its awaits, and its events
        come back through the bus's listener: the whole batch's time, which also counts
        the waits for the server (with only the statements and the publishing, a trivial
        query's p99 was 2.0x quiet while 150,000 rows drained on PostgreSQL)."""
        await asyncio.sleep(self.took + self.published if self.on_loop else self.wall)
