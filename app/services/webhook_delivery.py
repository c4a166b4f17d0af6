"""The webhook worker: outbox rows become deliveries, and due deliveries are posted, signed,
retried with back-off, every attempt's outcome kept. Off the request path: a background
task of every server process (Services.running), of which one works at a time.

Dispatching: the rows after the persisted cursor (app/store/webhooks.py) become deliveries
for the subscriptions of their site that want their event type, in ONE transaction with
the cursor's move: a crash loses nothing and makes nothing twice. On PostgreSQL a
transaction that took its outbox sequence earlier may commit after a later one was read:
the sequences the cursor passed by are remembered as gaps and read again for GAP_WAIT_MS,
and a dispatcher taking over (it has no such memory) first reads again the rows of that
window. Deliveries are unique per (subscription, request, event type), so rows read twice
make nothing twice. The outbox's prune spares rows after the cursor (app/store/outbox.py).

Sending: due deliveries are leased (LEASE, FOR UPDATE SKIP LOCKED) and posted
concurrently; a network error or a non-2xx answer schedules the next try after BACKOFF,
and after the last one the delivery has failed. A sender dying mid-post leaves its lease
to run out, and the delivery is posted again: receivers dedupe by event id
(docs/webhooks.md). One process holds the advisory lock WEBHOOK_LOCK and does both.
"""

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx
from sqlalchemy.engine import Connection

from app.services import webhook_events as events
from app.services.webhook_urls import Refused, target
from app.store import outbox
from app.store import webhooks as store
from app.store.webhooks import DELIVERED, FAILED, PENDING, Attempt, Due, NewDelivery, Outcome

if TYPE_CHECKING:
    from app.services.container import Services

log = logging.getLogger("powerpermit.webhooks")

BACKOFF: tuple[timedelta, ...] = tuple(
    timedelta(seconds=s) for s in (10, 30, 120, 600, 3600, 6 * 3600)
)  # after the 1st, 2nd, ... failed attempt; one more failure after the last: failed
TICK_S = 0.5
RETRY_LOCK_S = 5.0  # how often a process without the lock asks for it again
DISPATCH_BATCH = 500  # outbox rows per transaction
SEND_BATCH = 50  # deliveries leased at once
MAX_BATCHES = 20  # per tick, so a backlog never keeps the worker from resting
CONCURRENCY = 10
TIMEOUT_S = 5.0
LEASE = timedelta(seconds=60)  # well beyond a post's timeout
GAP_WAIT_MS = 60_000  # how long a skipped sequence may still turn up (a late commit)
MAX_GAPS = 10_000
BODY_BOUND = 512  # bytes of a refusal's answer read, for its error text
ERROR_TEXT = 200  # characters of error text kept per attempt
RETENTION = timedelta(days=30)  # finished deliveries and their attempts kept this long
PRUNE_EVERY_S = 3600.0
PRUNE_BATCH = 1_000
NOT_ENTITLED = "not sent: the webhook's owner may no longer see this site"
WEBHOOK_LOCK = 0x5050_5748  # the advisory lock key of "the webhook worker" ("PPWH")


@dataclass
class _Read:
    """What a dispatch transaction read, kept for after its commit."""

    cursor: int = 0
    fresh: list[store.OutboxRow] = field(default_factory=list)
    again: list[store.OutboxRow] = field(default_factory=list)


@dataclass
class Ticked:
    made: int = 0  # deliveries made from outbox rows
    sent: int = 0  # attempts made, whatever their outcome


class WebhookWorker:
    def __init__(
        self, allow_private: bool = False, backoff: tuple[timedelta, ...] = BACKOFF
    ) -> None:
        self.allow_private = allow_private
        self.backoff = backoff
        self._gaps: dict[int, int] = {}  # skipped sequence -> when noticed (wall ms)
        self._taking_over = True  # no memory of gaps yet: read the last window again
        self._client: httpx.AsyncClient | None = None

    async def run(self, services: "Services") -> None:
        """The background task: takes the lock, then ticks until cancelled."""
        try:
            while True:
                try:
                    async with services.db.exclusive(WEBHOOK_LOCK) as mine:
                        if mine:
                            self._taking_over = True
                            pruned_at = time.monotonic()
                            while True:
                                await self._tick_logged(services)
                                if time.monotonic() - pruned_at > PRUNE_EVERY_S:
                                    pruned_at = time.monotonic()
                                    await self._prune_logged(services)
                                await asyncio.sleep(TICK_S)
                except Exception:  # noqa: BLE001 - lost the database: ask for the lock again
                    log.exception("webhook worker lost its lock connection")
                await asyncio.sleep(RETRY_LOCK_S)
        finally:
            await self.aclose()

    async def _tick_logged(self, services: "Services") -> None:
        try:
            await self.tick(services)
        except Exception:  # noqa: BLE001 - nothing is lost: the next tick retries
            log.exception("webhook tick failed")

    async def _prune_logged(self, services: "Services") -> None:
        try:
            await self.prune(services)
        except Exception:  # noqa: BLE001 - pruned next time
            log.exception("webhook prune failed")

    async def prune(self, services: "Services") -> int:
        """Finished deliveries older than RETENTION go, with their attempts."""
        before, pruned = services.clock() - RETENTION, 0
        for _ in range(MAX_BATCHES):
            batch = await services.db.write(lambda c: store.prune(c, before, PRUNE_BATCH))
            pruned += batch
            if batch < PRUNE_BATCH:
                break
        return pruned

    async def tick(self, services: "Services") -> Ticked:
        """Make the deliveries of new outbox rows, then post what is due."""
        ticked = Ticked()
        for _ in range(MAX_BATCHES):
            made, more = await self.dispatch(services)
            ticked.made += made
            if not more:
                break
        for _ in range(MAX_BATCHES):
            sent = await self.send_due(services)
            ticked.sent += sent
            if sent < SEND_BATCH:
                break
        return ticked

    async def dispatch(self, services: "Services") -> tuple[int, bool]:
        """One batch of outbox rows after the cursor; returns the deliveries made and whether
        more rows may wait."""
        now, now_ms = services.clock(), outbox.now_ms()
        taking_over, gaps = self._taking_over, list(self._gaps)
        if not (taking_over or gaps) and not await services.db.read(store.has_unread):
            return 0, False  # idle: a read, so the writer (SQLite's one) is left alone
        read = _Read()

        def work(conn: Connection) -> int:
            cursor = store.cursor(conn)
            if cursor is None:  # no subscription was ever made: creating one sets it
                return 0
            again = (
                store.outbox_since(conn, now_ms - GAP_WAIT_MS, cursor)
                if taking_over
                else store.outbox_rows(conn, gaps)
            )
            fresh = store.outbox_after(conn, cursor, DISPATCH_BATCH)
            read.cursor, read.fresh, read.again = cursor, fresh, again
            rows = again + fresh
            if not rows:
                return 0
            subscriptions = store.active_subscriptions(conn)
            made = store.add_deliveries(conn, _deliveries(rows, subscriptions), now)
            if fresh:
                store.move_cursor(conn, fresh[-1].seq)
            return made

        made = await services.db.write(work)
        # Only once committed: a transaction run again must not leave half its memory.
        self._taking_over = False
        for row in read.again:
            self._gaps.pop(row.seq, None)
        self._remember_gaps(read.cursor, read.fresh, now_ms)
        self._gaps = {s: at for s, at in self._gaps.items() if now_ms - at < GAP_WAIT_MS}
        return made, len(read.fresh) == DISPATCH_BATCH

    def _remember_gaps(self, cursor: int, fresh: list[store.OutboxRow], now_ms: int) -> None:
        """Sequences skipped between rows read: a rolled-back transaction's, or a late
        commit's. Only those next to a recent row can still turn up."""
        previous = cursor
        for row in fresh:
            if row.seq > previous + 1 and now_ms - row.created_ms < GAP_WAIT_MS:
                for seq in range(max(previous + 1, row.seq - MAX_GAPS), row.seq):
                    if len(self._gaps) >= MAX_GAPS:
                        log.warning("too many outbox gaps; a late commit may be missed")
                        return
                    self._gaps[seq] = now_ms
            previous = row.seq

    async def send_due(self, services: "Services") -> int:
        """Post one batch of due deliveries; returns how many attempts were made."""
        now = services.clock()
        if not await services.db.read(lambda conn: store.has_due(conn, now)):
            return 0
        due = await services.db.write(
            lambda conn: store.claim_due(conn, now, now + LEASE, SEND_BATCH)
        )
        if not due:
            return 0
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(item: Due) -> Outcome:
            if not item.entitled:  # given up unsent, never retried
                refused = Attempt(services.clock(), None, NOT_ENTITLED, 0)
                return Outcome(item.delivery.id, refused, FAILED, None)
            async with limit:
                attempt = await self._post(services, item)
            tries = item.delivery.attempts + 1
            return Outcome(item.delivery.id, attempt, *self._next(attempt, tries))

        recorded = list(await asyncio.gather(*(one(item) for item in due)))
        await services.db.write(lambda conn: store.record(conn, recorded))
        return len(recorded)

    def _next(self, attempt: Attempt, tries: int) -> tuple[str, datetime | None]:
        if attempt.status_code is not None and 200 <= attempt.status_code < 300:
            return DELIVERED, None
        if tries > len(self.backoff):
            return FAILED, None
        return PENDING, attempt.at + self.backoff[tries - 1]

    async def _post(self, services: "Services", due: Due) -> Attempt:
        at, started = services.clock(), time.perf_counter()
        code: int | None = None
        error: str | None = None
        try:
            # Checked at every attempt: the host's DNS answer may have changed since.
            where = await target(due.url, self.allow_private)
            raw = due.delivery.payload.encode()
            headers = {
                **where.headers,
                "Content-Type": "application/json",
                "User-Agent": "PowerPermit-Webhooks/1",
                events.EVENT_ID_HEADER: due.delivery.event_id,
                # Wall time, whatever clock the services run on: the receiver compares it
                # with its own clock.
                events.SIGNATURE_HEADER: events.signature(due.secret, int(time.time()), raw),
            }
            request = self.client.build_request(
                "POST", where.url, content=raw, headers=headers, extensions=where.extensions
            )
            response = await self.client.send(request, stream=True)
            try:
                code = response.status_code
                # Read (a bounded part) either way: a body read to its end lets the
                # connection serve the next delivery; a longer one is cut off with it.
                text = await _bounded_text(response)
                if not 200 <= code < 300:
                    error = f"HTTP {code}: {text}"
            finally:
                await response.aclose()
        except Refused as err:
            error = str(err)
        except httpx.HTTPError as err:
            error = f"{type(err).__name__}: {err}"
        duration = int((time.perf_counter() - started) * 1000)
        return Attempt(at, code, error[:ERROR_TEXT] if error else None, duration)

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            # No redirects (a 3xx is a failed attempt: a redirect could lead anywhere), no
            # proxies from the environment, and the answer's body is hardly read.
            self._client = httpx.AsyncClient(
                timeout=TIMEOUT_S, follow_redirects=False, trust_env=False
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


async def _bounded_text(response: httpx.Response) -> str:
    read = b""
    async for chunk in response.aiter_raw():
        read += chunk
        if len(read) >= BODY_BOUND:
            break
    return read[:BODY_BOUND].decode("utf-8", "replace").strip()


def _deliveries(
    rows: list[store.OutboxRow], subscriptions: list[store.Subscription]
) -> list[NewDelivery]:
    by_site: dict[str, list[store.Subscription]] = {}
    for sub in subscriptions:
        by_site.setdefault(sub.site_id, []).append(sub)
    made = []
    for row in rows:
        fields = json.loads(row.payload)
        wanting = by_site.get(fields["site_id"])
        kind = events.event_type(fields["status"])
        if not wanting or kind is None:
            continue
        payload = events.body(fields["id"], kind, row.created_ms, fields)
        for sub in wanting:
            if kind in sub.events:
                made.append(NewDelivery(sub.id, fields["id"], fields["request_id"], kind, payload))
    return made
