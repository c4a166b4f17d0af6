"""The background sweep: overdue requests expire and due permits are issued, in bounded
batches, off the request path, by one process at a time.

A store that was down for a while can hold a large backlog: with 1,000,000 requests of
which ~150,000 were overdue, one transaction for all of them kept the server from
answering anything (its first /healthz came 49 s after start). Here each transaction
handles at most SWEEP_BATCH rows, and the sweep rests between batches for as long as the
batch took, so requests keep being served while a backlog drains (bench/sweep_backlog.py).

Several `powerpermit serve` processes share one PostgreSQL: an advisory lock lets one of
them sweep while the others skip the round, and the rows of a batch are taken with
FOR UPDATE SKIP LOCKED (app/store/requests.py), so a driver cancelling a request at that
moment neither waits for the sweep nor is overwritten by it.
"""

import asyncio
import logging
import time
from dataclasses import dataclass

from app.services.container import Services
from app.services.usage import ISSUE_BATCH, expire_overdue, issue_due_permits

log = logging.getLogger("powerpermit.sweeper")

SWEEP_BATCH = 200  # rows per transaction: bounds how long one batch holds the loop and locks
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
        while True:
            started = time.perf_counter()
            done = await expire_overdue(services, limit=batch)
            swept.expired += done
            swept.batches += 1
            if done < batch:
                break
            await _rest(started)
        issue_batch = min(batch, ISSUE_BATCH)
        while True:
            started = time.perf_counter()
            done = await issue_due_permits(services, limit=issue_batch)
            swept.issued += done
            swept.batches += 1
            if done < issue_batch:
                break
            await _rest(started)
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


async def _rest(started: float) -> None:
    """Rest as long as the batch took: the sweep gets at most about half of the loop (on
    SQLite a batch's statements run on it) and requests waiting in line go first."""
    await asyncio.sleep(time.perf_counter() - started)
