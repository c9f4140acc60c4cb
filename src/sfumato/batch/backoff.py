"""When to try again: Retry-After, exponential backoff with jitter, adaptive polling.

Pure functions and one small shared gate, apart from any HTTP, so their arithmetic is
testable alone. Jitter everywhere: a batch's requests start together, and without it
their retries and polls would stay in lockstep and hit the server together forever.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date); None if
    absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def backoff_seconds(
    attempt: int, *, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None
) -> float:
    """The wait before retry ``attempt`` (0 for the first): doubling from ``base`` up to
    ``cap``, half of it random ("equal jitter": never zero, never in lockstep)."""
    ceiling = min(cap, base * 2.0**attempt)
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


@dataclass(frozen=True)
class PollSchedule:
    """How long to wait before the ``n``-th look at one job: ``start``, growing by ``factor``
    each look up to ``cap`` (fast early, when short jobs end; slow later, when a long job
    would only be asked again and again), each wait ±``jitter`` of itself at random."""

    start: float = 1.0
    factor: float = 1.5
    cap: float = 30.0
    jitter: float = 0.2

    def wait(self, n: int, rng: random.Random | None = None) -> float:
        base = min(self.cap, self.start * self.factor ** max(0, n))
        return base * (1 + (rng or random).uniform(-self.jitter, self.jitter))


@dataclass
class RateGate:
    """Where every request of a run waits while the server has asked the client to slow down.

    One 429 with ``Retry-After`` holds every request, not only the one that got it: the
    limit is the key's, shared by all of them. Each then leaves the gate after its own
    random spread, so they do not all arrive again in the same instant.
    """

    spread: float = 0.5
    _until: float = field(default=0.0, init=False)

    def hold(self, seconds: float) -> None:
        self._until = max(self._until, time.monotonic() + seconds)

    @property
    def holding_for(self) -> float:
        return max(0.0, self._until - time.monotonic())

    async def wait(self) -> None:
        while (left := self.holding_for) > 0:
            await asyncio.sleep(left + random.uniform(0, self.spread))
