"""Retries with exponential backoff and full jitter, for lock conflicts and transient failures."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from paybill_iac.automation.errors import RetryableFailure

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """attempts in all (1 = no retry); the n-th retry waits uniform(0, min(cap, base * 2**(n-1)))."""

    attempts: int = 5
    base: float = 2.0
    cap: float = 60.0

    def delay(self, retry: int, rng: random.Random) -> float:
        return rng.uniform(0.0, min(self.cap, self.base * (2 ** (retry - 1))))


def with_retries(
    action: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None],
    rng: random.Random,
    on_retry: Callable[[int, Exception, float], None] | None = None,
) -> tuple[T, int]:
    """Run `action`, retrying a RetryableFailure (StackLocked, TransientFailure). Returns (result, attempts used);
    the last error is raised when attempts run out."""
    attempt = 1
    while True:
        try:
            return action(), attempt
        except RetryableFailure as error:
            if attempt >= policy.attempts:
                error.attempts = attempt
                raise
            wait = policy.delay(attempt, rng)
            if on_retry is not None:
                on_retry(attempt, error, wait)
            sleep(wait)
            attempt += 1
