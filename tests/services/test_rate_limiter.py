"""The token buckets on their own: refill, all-or-nothing charges, bounded keys."""

import pytest

from app.services.errors import RateLimited
from app.services.rate_limits import RateLimiter, Rule, Rules

ONE_A_SECOND = Rule(per_second=1, burst=2)


class Seconds:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    seconds = Seconds()
    limiter = RateLimiter(clock=seconds)
    limiter.check("k", ONE_A_SECOND)
    limiter.check("k", ONE_A_SECOND)
    with pytest.raises(RateLimited) as refused:
        limiter.check("k", ONE_A_SECOND)
    assert refused.value.retry_after == pytest.approx(1.0)
    seconds.now += 0.5
    with pytest.raises(RateLimited) as refused:
        limiter.check("k", ONE_A_SECOND)
    assert refused.value.retry_after == pytest.approx(0.5)
    seconds.now += 100  # a long rest fills the bucket to its burst, no further
    for _ in range(2):
        limiter.check("k", ONE_A_SECOND)
    with pytest.raises(RateLimited):
        limiter.check("k", ONE_A_SECOND)


def test_a_refused_charge_takes_nothing_from_the_other_buckets() -> None:
    limiter = RateLimiter(clock=Seconds())
    empty, roomy = Rule(per_second=1, burst=1), Rule(per_second=1, burst=1)
    limiter.check("principal", empty)
    for _ in range(3):
        with pytest.raises(RateLimited):
            limiter.check_all(("principal", empty), ("address", roomy))
    limiter.check("address", roomy)  # still holds its one token


def test_the_least_recently_used_keys_go_first_when_the_bound_is_reached() -> None:
    limiter = RateLimiter(max_keys=3, clock=Seconds())
    for key in ("a", "b", "c"):
        limiter.check(key, Rule(per_second=1, burst=1))
    limiter.check_all()  # charging nothing is allowed and changes nothing
    with pytest.raises(RateLimited):
        limiter.check("a", Rule(per_second=1, burst=1))  # "a" is now the most recent
    limiter.check("d", Rule(per_second=1, burst=1))  # evicts "b", the least recent
    assert len(limiter) == 3
    limiter.check("b", Rule(per_second=1, burst=1))  # a fresh, full bucket again
    with pytest.raises(RateLimited):
        limiter.check("a", Rule(per_second=1, burst=1))


def test_disabled_and_scaled_limits() -> None:
    off = RateLimiter(Rules(mutations_per_principal=Rule(1, 1)), enabled=False)
    for _ in range(100):
        off.check("k", off.rules.mutations_per_principal)
    raised = Rules().scaled(100)
    assert raised.mutations_per_principal == Rule(per_second=1000, burst=5000)
    assert raised.login_per_address.burst == 2000
