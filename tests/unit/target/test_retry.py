import random

import pytest

from target.config import RetryConfig
from target.pool import CallFailed, CallTimeout
from target.retry import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    BreakerOpen,
    BudgetExhausted,
    CircuitBreaker,
    Retrier,
    RetryBudget,
    RetryPolicy,
)


class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def failing():
    raise CallTimeout("http://payment", "no reply within 1s")


def run_outage(policy: RetryPolicy, calls: int) -> tuple[Retrier, FakeTime]:
    """`calls` callers each try once against a downstream that never answers."""
    ft = FakeTime()
    r = Retrier(policy, sleep=ft.sleep, clock=ft.clock, rng=random.Random(1))
    for _ in range(calls):
        with pytest.raises((CallTimeout, BreakerOpen, BudgetExhausted)):
            r.call("payment", failing)
        ft.now += 0.01
    return r, ft


def test_budget_arithmetic_retries_at_most_ratio_times_firsts_plus_floor():
    b = RetryBudget(ratio=0.1, floor=10)
    allowed = 0
    for i in range(1, 501):
        b.deposit()
        while b.withdraw():
            allowed += 1
        assert allowed <= 0.1 * i + 10
    # steady state: one retry per ten first attempts
    assert 0.1 * 500 <= allowed + 1 and allowed <= 0.1 * 500 + 10
    assert b.used_percent() >= 90


def test_budget_starts_full_and_caps_at_floor():
    b = RetryBudget(ratio=0.5, floor=3)
    for _ in range(100):
        b.deposit()
    assert sum(b.withdraw() for _ in range(10)) == 3


def test_retries_stay_within_budget_during_an_outage():
    # breaker off (huge threshold) to isolate the budget
    policy = RetryPolicy(attempts=5, budget_ratio=0.1, budget_floor=10, breaker_failures=10**9)
    r, _ = run_outage(policy, 200)
    s = r.stats()
    assert s["first_attempts"] == 200
    assert s["retries"] <= 0.1 * 200 + 10
    assert s["shed_retries"] > 0


def test_naive_retry_exceeds_the_budget_with_fixed_delays():
    policy = RetryPolicy.from_config(RetryConfig(naive_delay=1.0, naive_attempts=6), naive=True)
    r, ft = run_outage(policy, 200)
    s = r.stats()
    assert s["retries"] == 200 * 5
    assert s["retries"] > 0.1 * s["first_attempts"] + 10
    assert set(ft.sleeps) == {1.0}  # no jitter, no backoff
    assert s["downstreams"]["payment"]["breaker"] == "disabled"


def test_full_jitter_backoff_bounds():
    p = RetryPolicy(base=0.05, cap=1.0)
    rng = random.Random(7)
    for retry in range(1, 10):
        bound = min(1.0, 0.05 * 2 ** (retry - 1))
        samples = [p.backoff(retry, rng) for _ in range(200)]
        assert all(0 <= s <= bound for s in samples)
        assert max(samples) > bound / 2  # jitter spreads over the whole range
        assert len(set(samples)) > 100


def test_breaker_opens_after_failures_half_opens_and_closes():
    ft = FakeTime()
    b = CircuitBreaker(failures=3, reset=2.0, clock=ft.clock)
    for _ in range(2):
        assert b.allow()
        b.failure()
    assert b.state == CLOSED
    b.failure()
    assert b.state == OPEN and not b.allow()
    ft.now += 1.9
    assert not b.allow()
    ft.now += 0.2
    assert b.state == HALF_OPEN
    assert b.allow() and not b.allow()  # exactly one probe
    b.failure()
    assert b.state == OPEN  # a failed probe re-opens at once
    ft.now += 2.5
    assert b.allow()
    b.success()
    assert b.state == CLOSED and b.allow()


def test_breaker_success_resets_the_failure_count():
    b = CircuitBreaker(failures=3, reset=1.0, clock=FakeTime().clock)
    for _ in range(10):
        b.failure()
        b.failure()
        b.success()
    assert b.state == CLOSED


def test_retrier_opens_the_breaker_and_then_refuses_without_calling():
    ft = FakeTime()
    policy = RetryPolicy(attempts=3, breaker_failures=3, breaker_reset=5.0, budget_floor=100)
    r = Retrier(policy, sleep=ft.sleep, clock=ft.clock, rng=random.Random(0))
    calls = []

    def down():
        calls.append(1)
        raise CallFailed("http://x", "connection refused", definite=True)

    with pytest.raises(CallFailed):
        r.call("inventory", down)
    assert len(calls) == 3
    with pytest.raises(BreakerOpen, match="inventory"):
        r.call("inventory", down)
    assert len(calls) == 3
    assert r.stats()["downstreams"]["inventory"]["breaker"] == OPEN
    # other downstreams have their own breaker
    assert r.call("shipping", lambda: (200, {})) == (200, {})


def test_retrier_returns_first_success_and_counts_attempts():
    ft = FakeTime()
    r = Retrier(RetryPolicy(attempts=5), sleep=ft.sleep, clock=ft.clock, rng=random.Random(0))
    outcomes = [CallTimeout("u", "t"), CallTimeout("u", "t"), (200, {"ok": True})]

    def flaky():
        o = outcomes.pop(0)
        if isinstance(o, Exception):
            raise o
        return o

    assert r.call("payment", flaky) == (200, {"ok": True})
    s = r.stats()
    assert (s["attempts"], s["first_attempts"], s["retries"]) == (3, 1, 2)
    assert len(ft.sleeps) == 2


def test_non_retryable_errors_propagate_at_once():
    r = Retrier(RetryPolicy(), sleep=lambda s: None)

    def bug():
        raise KeyError("x")

    with pytest.raises(KeyError):
        r.call("payment", bug)
    assert r.stats()["retries"] == 0


def test_gauges_expose_budget_and_breaker_per_downstream():
    policy = RetryPolicy(attempts=3, budget_floor=2, breaker_failures=10**9)
    r, _ = run_outage(policy, 5)
    g = r.gauges()
    assert g['retry_budget_used_percent{downstream="payment"}'] > 50
    assert g['breaker_state{downstream="payment"}'] == 0
    assert g["retry_shed_retries"] >= 1
