"""Builds the pieces of a running sfumato from settings: one place, used by server, worker and CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sfumato.blobs import LocalBlobStore, UrlSigner
from sfumato.config import Settings
from sfumato.engine.catalog import Catalog
from sfumato.service.context import Context
from sfumato.store import Database

if TYPE_CHECKING:
    from sfumato.worker.loop import Worker


def build_context(settings: Settings) -> Context:
    signer = UrlSigner(settings.resolved_secret_key(), settings.url_ttl_seconds)
    blobs = LocalBlobStore(settings.resolved_blob_dir, public_url=settings.resolved_public_url, signer=signer)
    extra = settings.catalog_file or settings.resolved_home / "catalog.toml"
    catalog = Catalog.load(extra=extra, aliases=settings.model_aliases)
    return Context(
        settings=settings, db=Database(settings.resolved_database_url), catalog=catalog, blobs=blobs
    )


def build_worker(ctx: Context) -> Worker:
    """A worker over the context's database and blobs, with its own engine."""
    from sfumato.engine import Engine
    from sfumato.worker.loop import Worker

    settings = ctx.settings
    engine = Engine(
        ctx.catalog, ctx.models_dir, device=settings.device, max_loaded=settings.max_loaded_models
    )
    return Worker(
        db=ctx.db,
        engine=engine,
        blobs=ctx.blobs,
        worker_id=settings.worker_id,
        lease_seconds=settings.lease_seconds,
        heartbeat_seconds=settings.heartbeat_seconds,
        poll_seconds=settings.poll_seconds,
    )
