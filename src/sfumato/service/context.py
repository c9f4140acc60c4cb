"""What every use-case needs, built once by the application factory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sfumato.blobs import BlobStore
from sfumato.config import Settings
from sfumato.engine.catalog import Catalog
from sfumato.service.pricing import PriceTable
from sfumato.service.rate_limits import RateLimiter
from sfumato.store import Database


@dataclass
class Context:
    settings: Settings
    db: Database
    catalog: Catalog
    blobs: BlobStore
    wake_workers: Callable[[], None] = field(default=lambda: None)
    wake_webhooks: Callable[[], None] = field(default=lambda: None)
    pricing: PriceTable = field(default_factory=PriceTable.default)
    rate_limiter: RateLimiter = field(default_factory=RateLimiter.disabled)

    @property
    def models_dir(self) -> Path:
        return self.settings.resolved_models_dir
