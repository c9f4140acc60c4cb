"""Whether a model can run: what live workers advertise, plus this process's own worker.

An API node does not run models; its workers do. So a model is accepted when some worker
that can run it is alive: one whose advertisement (``store.workers``) lists the model and
was refreshed within a few heartbeats. In the embedded shape the in-process worker counts
too, from the moment it starts and before its first advertisement. Tiny models count
everywhere: any worker builds them offline on first use.

The submit path is hot, so the fleet's advertisements are read at most once per
``SFUMATO_FLEET_CACHE_SECONDS``, not per request: a worker that starts (or dies) is seen
within that time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sfumato.engine.catalog import ModelEntry
from sfumato.errors import InvalidRequest
from sfumato.store import workers
from sfumato.store.clock import utcnow

if TYPE_CHECKING:
    from sfumato.service.context import Context
    from sfumato.store import Database

UNAVAILABLE = "model-unavailable"


@dataclass(frozen=True)
class FleetModels:
    """The models live workers can run: those listed, or any at all when one lists none."""

    keys: frozenset[str] = frozenset()
    any_model: bool = False

    def __contains__(self, key: object) -> bool:
        return self.any_model or key in self.keys


class LiveModels:
    """The fleet's advertised models, read from the database at most once per ``ttl_seconds``."""

    def __init__(
        self,
        db: Database,
        *,
        ttl_seconds: float,
        stale_after_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """An advertisement older than ``stale_after_seconds`` is a worker presumed dead."""
        self._db = db
        self._ttl = ttl_seconds
        self._stale_after = timedelta(seconds=stale_after_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: FleetModels | None = None
        self._read_at = 0.0

    def current(self) -> FleetModels:
        now = self._clock()
        with self._lock:
            if self._snapshot is not None and now - self._read_at < self._ttl:
                return self._snapshot
        with self._db.read() as session:
            lists = workers.advertised_models(session, seen_since=utcnow() - self._stale_after)
        snapshot = FleetModels(
            keys=frozenset(key for models in lists if models is not None for key in models),
            any_model=any(models is None for models in lists),
        )
        with self._lock:
            self._snapshot, self._read_at = snapshot, now
        return snapshot

    def forget(self) -> None:
        """Read the advertisements afresh on the next question."""
        with self._lock:
            self._snapshot = None


def is_available(ctx: Context, entry: ModelEntry) -> bool:
    """Whether a job for ``entry`` submitted now has a worker that can run it."""
    return entry.always_ready or entry.key in ctx.local_models() or entry.key in ctx.live_models.current()


def require(ctx: Context, entry: ModelEntry) -> ModelEntry:
    """``entry`` if some live worker can run it, else a 400 naming it and how to get it."""
    if not is_available(ctx, entry):
        raise InvalidRequest(
            f"Model {entry.name!r} ({entry.key}, {entry.id}) cannot run: no live worker has its "
            f"weights. {ctx.catalog.how_to_obtain(entry)}",
            code=UNAVAILABLE,
        )
    return entry


def require_named(ctx: Context, name: str, family: str, setting: str) -> ModelEntry:
    """The upscaler or segmenter a setting names (``SFUMATO_UPSCALER``…), which must run."""
    entry = ctx.catalog.resolve(name)
    if entry is None or entry.family != family:
        raise InvalidRequest(
            f"{setting} names {name!r}, which is no {family} model of the catalog: "
            "`sfumato models list` shows them",
            code=UNAVAILABLE,
        )
    return require(ctx, entry)
