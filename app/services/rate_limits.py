"""Token buckets keyed by strings: how fast one principal, address or client may go.

Each key has a bucket of `burst` tokens that refills at `per_second`; a request takes one
token from every bucket it is charged to, or, if any of them is short, takes none and is
refused with the seconds until the emptiest one holds a token again. Buckets live in this
process's memory: with several server processes each keeps its own, so the effective
limit is the rule times the number of processes an address or principal reaches.

Memory is bounded: at most `max_keys` buckets, the least recently used dropped first. A
dropped bucket is one that has not been touched for the longest; it has refilled by then
unless the limiter holds more keys than a burst lasts, and starting it full again is the
only thing its eviction can cost.
"""

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

from app.services.errors import RateLimited


@dataclass(frozen=True)
class Rule:
    per_second: float  # tokens added per second
    burst: int  # the bucket's size: how many may come at once after a quiet spell

    def scaled(self, factor: float) -> "Rule":
        return Rule(self.per_second * factor, max(1, round(self.burst * factor)))


@dataclass(frozen=True)
class Rules:
    """The limits, in one place (docs/deploy.md, Rate limits). Generous for people and
    integrators: a busy manager's dashboard or a fleet operator's sync stays far below."""

    mutations_per_principal: Rule = Rule(per_second=10, burst=50)
    # Five times the principal's: several people or clients behind one NAT or office.
    mutations_per_address: Rule = Rule(per_second=50, burst=250)
    # How fast one address may try passwords at all, whichever logins it tries; the
    # per-login back-off (app/services/login_guard.py) slows guesses at one account.
    login_per_address: Rule = Rule(per_second=10 / 60, burst=20)
    # The OAuth2 token endpoint (/oauth/token), per client and per address.
    token_per_client: Rule = Rule(per_second=5, burst=20)
    token_per_address: Rule = Rule(per_second=10, burst=50)

    def scaled(self, factor: float) -> "Rules":
        """Every rule's rate and burst times `factor`: the benches and tests that flood one
        user on purpose raise them (`powerpermit serve --rate-limit-factor`)."""
        return replace(
            self,
            **{name: getattr(self, name).scaled(factor) for name in self.__dataclass_fields__},
        )


MAX_KEYS = 100_000  # ~200 bytes a bucket: ~20 MB at most


class _Bucket:
    __slots__ = ("tokens", "at")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens, self.at = tokens, at


class RateLimiter:
    def __init__(
        self,
        rules: Rules | None = None,
        *,
        enabled: bool = True,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`enabled=False` charges nothing and refuses nothing (benches measuring a flood)."""
        self.rules = rules or Rules()
        self.enabled = enabled
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self.refused = 0  # requests refused since start (bench figures)

    def __len__(self) -> int:
        return len(self._buckets)

    def check(self, key: str, rule: Rule) -> None:
        """Take one token from `key`'s bucket, or raise RateLimited taking nothing."""
        self.check_all((key, rule))

    def check_all(self, *charges: tuple[str, Rule]) -> None:
        """Take one token from each bucket, or none of them: a request refused by one limit
        spends nothing of the others. Raises RateLimited with the longest wait."""
        if not self.enabled:
            return
        now = self.clock()
        buckets = [(self._refilled(key, rule, now), rule) for key, rule in charges]
        wait = max((_wait(bucket, rule) for bucket, rule in buckets), default=0.0)
        if wait > 0:
            self.refused += 1
            raise RateLimited(
                f"Too many requests: try again in {math.ceil(wait)} s.", retry_after=wait
            )
        for bucket, _ in buckets:
            bucket.tokens -= 1

    def _refilled(self, key: str, rule: Rule, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(rule.burst), now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            # max(): a clock that steps back never takes tokens away.
            elapsed = max(0.0, now - bucket.at)
            bucket.tokens = min(float(rule.burst), bucket.tokens + elapsed * rule.per_second)
            bucket.at = now
        return bucket


def _wait(bucket: _Bucket, rule: Rule) -> float:
    """Seconds until the bucket holds one whole token; 0 when it does now."""
    if bucket.tokens >= 1:
        return 0.0
    return (1 - bucket.tokens) / rule.per_second


def retry_after_seconds(error: RateLimited) -> int:
    """Retry-After as HTTP wants it: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(error.retry_after))
