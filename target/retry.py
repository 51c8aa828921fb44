"""The one retry layer every cross-service call goes through.

Three mechanisms, each a guard against turning a blip into an outage:
- exponential backoff with full jitter: delay ~ U(0, min(cap, base * 2**n)),
  so callers that failed together do not retry together;
- a retry budget per downstream, a token bucket: every first attempt deposits
  ``budget_ratio`` tokens, every retry spends one, the bucket holds at most
  ``budget_floor`` and starts full. Hence retries <= ratio * first attempts +
  floor, always, and over any window of time too (the bucket never holds more
  than ``budget_floor``); a retry that finds the bucket empty is shed;
- a circuit breaker per downstream: ``breaker_failures`` consecutive failures
  open it; after ``breaker_reset`` s it lets one probe through (half-open);
  the probe's outcome closes or re-opens it.

The ``naive-retry`` bug replaces all three with the seed's snippet 4: a fixed
delay, no jitter, no budget, no breaker, ``naive_attempts`` attempts.

Only ``CallError`` (timeout, refused, dropped) is retried; an HTTP response,
even a 5xx, is an answer and goes back to the caller as is.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from target.config import RetryConfig
from target.pool import CallError

T = TypeVar("T")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class GiveUp(Exception):
    """The retry layer stopped trying; ``last`` is the last attempt's error (if any)."""

    definite = False

    def __init__(self, downstream: str, problem: str, last: BaseException | None = None):
        super().__init__(f"{downstream}: {problem}" + (f"; last error: {last}" if last else ""))
        self.downstream = downstream
        self.last = last


class BreakerOpen(GiveUp):
    """The downstream's breaker is open: no attempt was made now."""


class BudgetExhausted(GiveUp):
    """The retry budget is empty: the retry was shed."""


@dataclass(frozen=True)
class RetryPolicy(RetryConfig):
    """The node's retry settings (``RetryConfig``) plus whether the naive-retry bug is on."""

    naive: bool = False

    @classmethod
    def from_config(cls, cfg: RetryConfig, *, naive: bool = False) -> RetryPolicy:
        return cls(**dataclasses.asdict(cfg), naive=naive)

    def max_attempts(self) -> int:
        return self.naive_attempts if self.naive else max(1, self.attempts)

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Delay before retry number ``retry`` (1-based)."""
        if self.naive:
            return self.naive_delay
        return rng.uniform(0, min(self.cap, self.base * 2 ** (retry - 1)))


class RetryBudget:
    """Token bucket: deposits ``ratio`` per first attempt, a retry costs one token."""

    def __init__(self, ratio: float, floor: float):
        self.ratio = ratio
        self.capacity = max(1.0, float(floor))
        self.tokens = self.capacity
        self._lock = threading.Lock()

    def deposit(self) -> None:
        with self._lock:
            self.tokens = min(self.capacity, self.tokens + self.ratio)

    def withdraw(self) -> bool:
        with self._lock:
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return True
            return False

    def used_percent(self) -> float:
        with self._lock:
            return round(100.0 * (1 - self.tokens / self.capacity), 2)


class CircuitBreaker:
    def __init__(self, failures: int, reset: float, clock: Callable[[], float] = time.monotonic):
        self.failures_to_open = max(1, failures)
        self.reset = reset
        self._clock = clock
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            return self._current()

    def _current(self) -> str:
        if self._state == OPEN and self._clock() - self._opened_at >= self.reset:
            self._state, self._probing = HALF_OPEN, False
        return self._state

    def allow(self) -> bool:
        """May an attempt go out now? In half-open, only one probe at a time."""
        with self._lock:
            state = self._current()
            if state == CLOSED:
                return True
            if state == HALF_OPEN and not self._probing:
                self._probing = True
                return True
            return False

    def success(self) -> None:
        with self._lock:
            self._state, self._failures, self._probing = CLOSED, 0, False

    def failure(self) -> None:
        with self._lock:
            state = self._current()
            self._failures += 1
            if state == HALF_OPEN or self._failures >= self.failures_to_open:
                self._state, self._opened_at, self._probing = OPEN, self._clock(), False


@dataclass
class _Downstream:
    breaker: CircuitBreaker
    budget: RetryBudget
    first_attempts: int = 0
    retries: int = 0
    shed_retries: int = 0
    breaker_rejections: int = 0
    failures: int = 0


class Retrier:
    """Runs one call with retries under the policy; keeps per-downstream stats."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        retryable: tuple[type[BaseException], ...] = (CallError,),
    ):
        self.policy = policy
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._retryable = retryable
        self._downstreams: dict[str, _Downstream] = {}
        self._lock = threading.Lock()

    def _get(self, name: str) -> _Downstream:
        with self._lock:
            d = self._downstreams.get(name)
            if d is None:
                p = self.policy
                d = _Downstream(
                    CircuitBreaker(p.breaker_failures, p.breaker_reset, self._clock),
                    RetryBudget(p.budget_ratio, p.budget_floor),
                )
                self._downstreams[name] = d
            return d

    def call(self, downstream: str, fn: Callable[[], T]) -> T:
        """fn() is one attempt. Raises the last CallError, BreakerOpen or BudgetExhausted."""
        d = self._get(downstream)
        naive = self.policy.naive
        last: BaseException | None = None
        for attempt in range(self.policy.max_attempts()):
            if attempt > 0 and not naive and not d.budget.withdraw():
                with self._lock:
                    d.shed_retries += 1
                raise BudgetExhausted(downstream, "retry budget exhausted, retry shed", last)
            if not naive and not d.breaker.allow():
                with self._lock:
                    d.breaker_rejections += 1
                raise BreakerOpen(downstream, "circuit breaker open", last)
            # Counted when admitted (its token spent), before the backoff sleep: the
            # counters then obey the bucket between any two scrapes, which is what the
            # harness checks (retries <= ratio * first attempts + floor in every window).
            with self._lock:
                if attempt == 0:
                    d.first_attempts += 1
                else:
                    d.retries += 1
            if attempt == 0 and not naive:
                d.budget.deposit()
            if attempt > 0:
                self._sleep(self.policy.backoff(attempt, self._rng))
            try:
                result = fn()
            except self._retryable as e:
                last = e
                with self._lock:
                    d.failures += 1
                if not naive:
                    d.breaker.failure()
                continue
            if not naive:
                d.breaker.success()
            return result
        assert last is not None
        raise last

    def stats(self) -> dict[str, Any]:
        """Totals and per-downstream numbers, for /metrics and for tests."""
        with self._lock:
            items = list(self._downstreams.items())
        per: dict[str, dict[str, Any]] = {}
        for name, d in items:
            per[name] = {
                "attempts": d.first_attempts + d.retries,
                "first_attempts": d.first_attempts,
                "retries": d.retries,
                "shed_retries": d.shed_retries,
                "breaker_rejections": d.breaker_rejections,
                "failures": d.failures,
                "breaker": "disabled" if self.policy.naive else d.breaker.state,
                "budget_used_percent": 0.0 if self.policy.naive else d.budget.used_percent(),
            }
        totals = {k: sum(v[k] for v in per.values()) for k in
                  ("attempts", "first_attempts", "retries", "shed_retries", "breaker_rejections", "failures")}
        return {"naive": self.policy.naive, **totals, "downstreams": per}

    def gauges(self) -> dict[str, float]:
        """Flat gauges for the metrics registry."""
        s = self.stats()
        out: dict[str, float] = {f"retry_{k}": s[k] for k in
                                 ("attempts", "first_attempts", "retries", "shed_retries", "breaker_rejections")}
        codes = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2, "disabled": -1}
        for name, d in s["downstreams"].items():
            label = f'{{downstream="{name}"}}'
            out[f"retry_budget_used_percent{label}"] = d["budget_used_percent"]
            out[f"breaker_state{label}"] = codes[d["breaker"]]
            out[f"retry_retries{label}"] = d["retries"]
            out[f"retry_first_attempts{label}"] = d["first_attempts"]
            out[f"retry_shed_retries{label}"] = d["shed_retries"]
        return out
