"""What every use-case needs, built once by the application factory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sfumato.blobs import BlobStore
from sfumato.blueprints import Library
from sfumato.blueprints import load as load_blueprints
from sfumato.config import Settings
from sfumato.engine.catalog import Catalog
from sfumato.jobs.hand_off import HandOffs
from sfumato.service.availability import LiveModels
from sfumato.service.intake import Intake
from sfumato.service.key_cache import KeyCache
from sfumato.service.pricing import PriceTable
from sfumato.service.rate_limits import RateLimiter
from sfumato.service.realtime_waits import RealtimeWaits
from sfumato.store import Database, commits

if TYPE_CHECKING:
    from sfumato.service.keys import Principal


@dataclass
class Context:
    settings: Settings
    db: Database
    catalog: Catalog
    blobs: BlobStore
    pricing: PriceTable = field(default_factory=PriceTable.default)
    rate_limiter: RateLimiter = field(default_factory=RateLimiter.disabled)
    # The models an in-process worker runs (the embedded shape); none without one.
    local_models: Callable[[], frozenset[str]] = field(default=frozenset)
    live_models: LiveModels = field(init=False)  # what live workers advertise, briefly cached
    principals: KeyCache[Principal] = field(init=False)
    account_policies: KeyCache[Any] = field(init=False)  # accounts' prompt rules (service/policy.py)
    intake: Intake = field(init=False)  # records submitted generations, a group per transaction
    realtime_waits: RealtimeWaits = field(init=False)  # realtime requests awaited in this process
    generation_waits: RealtimeWaits = field(init=False)  # generations awaited (the OpenAI surface)
    # The in-process worker's realtime hand-offs (jobs/hand_off.py); None without one.
    hand_offs: HandOffs | None = None
    # The package's blueprints and the operator's ($SFUMATO_HOME/blueprints), checked at start.
    blueprints: Library = field(init=False)

    def __post_init__(self) -> None:
        self.principals = KeyCache(self.settings.key_cache_seconds)
        self.account_policies = KeyCache(self.settings.key_cache_seconds)
        self.intake = Intake(self.db)
        self.blueprints = load_blueprints(self.settings.home / "blueprints")
        self.realtime_waits = RealtimeWaits(self.db.commits, listen=self.settings.listen)
        self.generation_waits = RealtimeWaits(
            self.db.commits, listen=self.settings.listen, topic=commits.GENERATIONS
        )
        # A worker advertises every heartbeat; three missed ones and it is presumed dead.
        beat = min(self.settings.heartbeat_seconds, self.settings.lease_seconds / 3)
        self.live_models = LiveModels(
            self.db, ttl_seconds=self.settings.fleet_cache_seconds, stale_after_seconds=3 * beat
        )

    @cached_property
    def models_dir(self) -> Path:
        return self.settings.resolved_models_dir

    def close(self) -> None:
        """Finish recording what was submitted and release the database."""
        self.intake.close()
        self.realtime_waits.close()
        self.generation_waits.close()
        self.db.dispose()
