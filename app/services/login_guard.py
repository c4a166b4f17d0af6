"""Failed sign-ins back off, then lock: per login and per client address.

The policy (POLICY, the one place it is set):
- A key (a login, normalised, whether or not it exists; or a client address) may fail
  FREE_FAILURES = 5 times at no cost beyond the failure itself.
- After n >= 5 failures the next attempt must wait 1 s * 2**(n - 5) from the last failure
  (1 s, 2 s, 4 s, ...), never more than MAX_DELAY = 60 s.
- After LOCK_AFTER = 20 failures the key is locked for LOCK_FOR = 15 min from its last
  failure; an attempt after that which fails again locks it again.
- A key forgets its failures FORGET_AFTER = 1 h after the last one. A successful sign-in
  clears its login's key, never its address's (an address guessing at many logins is not
  let off by one right guess).

An attempt on a waiting or locked key is refused with RateLimited before any password is
checked: no argon2 cost and no database write, which is what keeps an attack of thousands
of guesses cheap. The refusal reads the same for every login, existing or not.

The login_failures table is the truth shared by every server process (failures are
counted in the row, so processes failing at once add up); each process also keeps the
keys it saw in memory, so it refuses a waiting key without a query. Attempts on one key
in one process are admitted one at a time past the free ones: twenty guesses sent at
once do not all reach a password check.
"""

import contextlib
import hashlib
import ipaddress
import math
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from app.services.errors import RateLimited
from app.store import login_failures as store
from app.store.database import Database


@dataclass(frozen=True)
class Policy:
    free_failures: int = 5
    first_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(seconds=60)
    lock_after: int = 20
    lock_for: timedelta = timedelta(minutes=15)
    forget_after: timedelta = timedelta(hours=1)

    def wait_ms(self, failures: int) -> int:
        """How long after the last failure the next attempt must wait."""
        if failures < self.free_failures:
            return 0
        if failures >= self.lock_after:
            return _ms(self.lock_for)
        delay: int = _ms(self.first_delay) << min(failures - self.free_failures, 32)
        return min(delay, _ms(self.max_delay))


POLICY = Policy()
MESSAGE = "Too many sign-in attempts. Try again later."  # the same for every login
MAX_KEYS = 100_000  # remembered in memory; the table still holds the rest
PRUNE_EVERY_S = 300.0


def _ms(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)


def login_key(login: str) -> str:
    """A login however it is spelled or padded, hashed: any length fits the key column."""
    normalised = login.strip().casefold().encode("utf-8")
    return "login:" + hashlib.sha256(normalised).hexdigest()[:32]


def address_key(address: str) -> str:
    """An IPv6 address counts by its /64: one subscriber commonly holds a whole /64, and
    could otherwise try from a fresh address every time."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "address:" + address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return "address:" + str(ip.ipv4_mapped)
        return "address:" + str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return "address:" + str(ip)


@dataclass
class _Key:
    failures: int = 0
    last_ms: int = 0
    pending: int = 0  # attempts admitted whose password check has not ended


@dataclass
class Attempt:
    """Set `succeeded` when the password matched; anything else counts as a failure."""

    keys: Sequence[str]
    succeeded: bool = False


class LoginGuard:
    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy or POLICY
        self._keys: dict[str, _Key] = {}
        self._last_prune = time.monotonic()

    @contextlib.asynccontextmanager
    async def attempt(
        self, db: Database, login: str, address: str | None, now: datetime
    ) -> AsyncIterator[Attempt]:
        """Admits one sign-in attempt or raises RateLimited; records its outcome after."""
        keys = [login_key(login)] + ([address_key(address)] if address else [])
        now_ms = int(now.timestamp() * 1000)
        self._refuse_waiting(keys, now_ms)  # from memory: a refusal costs no query
        rows = await db.read(lambda conn: store.read(conn, keys))
        for key in keys:
            failures, last_ms = rows.get(key, (0, 0))
            state = self._keys.setdefault(key, _Key())
            # Newer in memory: this process failed again while the read was under way.
            if (last_ms, failures) > (state.last_ms, state.failures):
                state.failures, state.last_ms = failures, last_ms
        self._refuse_waiting(keys, now_ms)
        for key in keys:
            self._keys[key].pending += 1
        attempt = Attempt(keys)
        try:
            yield attempt
            # Still pending while the outcome is stored: no other attempt slips in meanwhile.
            if attempt.succeeded:
                await self._succeeded(db, keys[0])
            else:
                await self._failed(db, keys, now_ms)
        finally:
            self._release(keys)

    def _refuse_waiting(self, keys: Sequence[str], now_ms: int) -> None:
        waits = [self._wait_ms(self._keys[key], now_ms) for key in keys if key in self._keys]
        wait = max(waits, default=0)
        if wait > 0:
            raise RateLimited(MESSAGE, math.ceil(wait / 1000))

    def _wait_ms(self, state: _Key, now_ms: int) -> int:
        if now_ms - state.last_ms >= _ms(self.policy.forget_after):
            state.failures = 0
        counted = state.failures + state.pending
        if counted < self.policy.free_failures:
            return 0
        if state.pending:  # one attempt at a time past the free ones: its outcome decides
            return self.policy.wait_ms(counted)
        return max(0, state.last_ms + self.policy.wait_ms(counted) - now_ms)

    def _release(self, keys: Sequence[str]) -> None:
        for key in keys:
            state = self._keys.get(key)
            if state is not None and state.pending > 0:
                state.pending -= 1
            if state is not None and not state.pending and not state.failures:
                del self._keys[key]  # nothing to remember: sign-ins that went well

    async def _succeeded(self, db: Database, login: str) -> None:
        state = self._keys.get(login)
        if state is not None and state.failures > 0:
            state.failures = state.last_ms = 0
            await db.write(lambda conn: store.clear(conn, login))

    async def _failed(self, db: Database, keys: Sequence[str], now_ms: int) -> None:
        forgotten = now_ms - _ms(self.policy.forget_after)
        prune = time.monotonic() - self._last_prune > PRUNE_EVERY_S
        if prune:
            self._last_prune = time.monotonic()

        def work(conn: Connection) -> dict[str, int]:
            if prune:
                store.prune(conn, forgotten)
            return {key: store.add_failure(conn, key, now_ms, forgotten) for key in keys}

        counts = await db.write(work)
        for key, failures in counts.items():
            state = self._keys.setdefault(key, _Key())
            state.failures, state.last_ms = failures, now_ms
        self._forget_some(now_ms)

    def _forget_some(self, now_ms: int) -> None:
        """Memory stays bounded: quiet keys go first (the table still has them)."""
        if len(self._keys) <= MAX_KEYS:
            return
        quiet = now_ms - _ms(self.policy.lock_for)
        for key in [k for k, s in self._keys.items() if not s.pending and s.last_ms < quiet]:
            del self._keys[key]
        while len(self._keys) > MAX_KEYS:
            del self._keys[next(iter(self._keys))]
