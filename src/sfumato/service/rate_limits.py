"""Request-rate limits per API key and per account (the ``limits`` library).

Counters live in memory by default (one process: the embedded shape) and in Redis when
``SFUMATO_REDIS_URL`` is set, so every API node of the scaled shape shares them. The
moving-window strategy counts the requests of the last window exactly: no burst at a
window's edge. When Redis cannot be reached, requests are let through (and logged):
a broken counter store must not take the API down with it.

In memory the windows are kept here (:class:`MemoryWindows`), not in the library's
``MemoryStorage``: that one starts a timer thread every 10 ms to expire its counters and
made counting the largest cost of a request after the database write; a window here drops
its expired entries when it is next counted.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from sfumato.config import Settings
from sfumato.errors import InvalidRequest, QuotaExceeded

log = logging.getLogger(__name__)


class RateLimited(QuotaExceeded):
    """Too many requests; ``headers`` tell the client when to come back."""

    code = "rate-limited"

    def __init__(self, message: str, *, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.headers = headers


@dataclass(frozen=True)
class Decision:
    """The tightest limit that applies, as headers for the response."""

    limit: int
    remaining: int
    reset_at: float  # epoch seconds when a request slot frees up

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.remaining)),
            "X-RateLimit-Reset": str(math.ceil(self.reset_at)),
        }


def parse_limits(text: str, setting: str) -> list[RateLimitItem]:
    try:
        return list(parse_many(text)) if text.strip() else []
    except ValueError as exc:
        example = "'100/second;2000/minute'"
        raise InvalidRequest(f"{setting}: {text!r} is not a rate limit such as {example}") from exc


class RateLimiter:
    def __init__(
        self,
        *,
        per_key: list[RateLimitItem],
        per_account: list[RateLimitItem],
        storage_url: str | None = None,
    ) -> None:
        self.per_key = per_key
        self.per_account = per_account
        self._counter: MemoryWindows | _LibraryWindows = (
            _LibraryWindows(MovingWindowRateLimiter(storage_from_string(storage_url)))
            if storage_url
            else MemoryWindows()
        )
        # Counting in memory never waits; counting in Redis is a network round trip.
        self.blocking = bool(storage_url) and bool(per_key or per_account)

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        return cls(
            per_key=parse_limits(settings.rate_limit_per_key, "SFUMATO_RATE_LIMIT_PER_KEY"),
            per_account=parse_limits(settings.rate_limit_per_account, "SFUMATO_RATE_LIMIT_PER_ACCOUNT"),
            storage_url=settings.redis_url,
        )

    @classmethod
    def disabled(cls) -> RateLimiter:
        return cls(per_key=[], per_account=[])

    def hit(self, *, api_key_id: str, account_id: str) -> Decision | None:
        """Count one request; :class:`RateLimited` if a limit is spent, else the tightest limit's state."""
        checks = [(item, ("key", api_key_id)) for item in self.per_key]
        checks += [(item, ("account", account_id)) for item in self.per_account]
        if not checks:
            return None
        try:
            return self._hit(checks)
        except RateLimited:
            raise
        except Exception as exc:  # the counter store is down: let the request through
            log.warning("rate limiter unavailable (%s); request allowed", type(exc).__name__)
            return None

    def _hit(self, checks: list[tuple[RateLimitItem, tuple[str, str]]]) -> Decision:
        decisions = []
        for item, ids in checks:
            allowed, decision = self._counter.hit(item, ids)
            if not allowed:
                retry_after = max(1, math.ceil(decision.reset_at - time.time()))
                scope = "API key" if ids[0] == "key" else "account"
                raise RateLimited(
                    f"Rate limit of {item} per {scope} exceeded; retry in {retry_after} s",
                    headers={**decision.headers(), "Retry-After": str(retry_after)},
                )
            decisions.append(decision)
        return min(decisions, key=lambda d: d.remaining)


class MemoryWindows:
    """Moving windows in this process: per limit and caller, the times of the requests it let
    through within the last window, oldest first."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()  # counted on the event loop, and from threads
        self._windows: dict[tuple[RateLimitItem, str, str], deque[float]] = {}

    def hit(self, item: RateLimitItem, ids: tuple[str, str]) -> tuple[bool, Decision]:
        """Count one request if ``item`` allows it; whether it did, and the window's state after."""
        seconds = item.get_expiry()
        with self._lock:
            now = self._clock()
            key = (item, *ids)
            times = self._windows.get(key)
            if times is None:
                times = self._windows[key] = deque()
            while times and times[0] <= now - seconds:
                times.popleft()
            allowed = len(times) < item.amount
            if allowed:
                times.append(now)
            return allowed, Decision(item.amount, item.amount - len(times), times[0] + seconds)


class _LibraryWindows:
    """The ``limits`` library's moving windows (in Redis), with :class:`MemoryWindows`' interface."""

    def __init__(self, limiter: MovingWindowRateLimiter) -> None:
        self._limiter = limiter

    def hit(self, item: RateLimitItem, ids: tuple[str, str]) -> tuple[bool, Decision]:
        allowed = self._limiter.hit(item, *ids)
        stats = self._limiter.get_window_stats(item, *ids)
        return allowed, Decision(item.amount, stats.remaining if allowed else 0, stats.reset_time)
