"""Builds the pieces of a running sfumato from settings: one place, used by server, worker and CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sfumato.blobs import BlobStore, LocalBlobStore, UrlSigner
from sfumato.config import Settings
from sfumato.engine.catalog import SEGMENTER_FAMILY, UPSCALER_FAMILY, Catalog
from sfumato.service.context import Context
from sfumato.service.pricing import PriceTable
from sfumato.service.rate_limits import RateLimiter
from sfumato.store import Database

if TYPE_CHECKING:
    from sfumato.engine.fast_paths import FastPaths
    from sfumato.webhooks.sender import WebhookSender
    from sfumato.worker.loop import Worker


def build_context(settings: Settings) -> Context:
    blobs = build_blob_store(settings)
    extra = settings.catalog_file or settings.resolved_home / "catalog.toml"
    # SFUMATO_UPSCALER / SFUMATO_SEGMENTER may name weights by path instead of a model key.
    paths = {UPSCALER_FAMILY: settings.upscaler, SEGMENTER_FAMILY: settings.segmenter}
    catalog = Catalog.load(extra=extra, aliases=settings.model_aliases, paths=paths)
    pricing = PriceTable.load(settings.pricing_file or settings.resolved_home / "pricing.toml")
    return Context(
        settings=settings,
        db=Database(settings.resolved_database_url),
        catalog=catalog,
        blobs=blobs,
        pricing=pricing,
        rate_limiter=RateLimiter.from_settings(settings),
    )


def build_blob_store(settings: Settings) -> BlobStore:
    """The configured backend: the local directory (default) or an S3-compatible bucket."""
    if settings.blob_backend == "s3":
        if not settings.s3_bucket:
            raise ValueError("SFUMATO_BLOB_BACKEND=s3 needs SFUMATO_S3_BUCKET (the bucket's name)")
        from sfumato.blobs.s3 import S3BlobStore

        return S3BlobStore(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            public_url=settings.s3_public_url,
            url_ttl_seconds=settings.url_ttl_seconds,
        )
    signer = UrlSigner(settings.resolved_secret_key(), settings.url_ttl_seconds)
    return LocalBlobStore(settings.resolved_blob_dir, public_url=settings.resolved_public_url, signer=signer)


def build_worker(ctx: Context) -> Worker:
    """A worker over the context's database and blobs, with its own engine."""
    from sfumato.engine import Engine
    from sfumato.worker.loop import Worker
    from sfumato.worker.screening import Screening

    settings = ctx.settings
    engine = Engine(
        ctx.catalog,
        ctx.models_dir,
        device=settings.device,
        max_loaded=settings.max_loaded_models,
        memory_budget=settings.model_memory_mb * 2**20 or None,
        fast=fast_paths(settings),
        warm_shapes=settings.compile_warmup,
    )
    return Worker(
        db=ctx.db,
        engine=engine,
        blobs=ctx.blobs,
        worker_id=settings.worker_id,
        lease_seconds=settings.lease_seconds,
        heartbeat_seconds=settings.heartbeat_seconds,
        poll_seconds=settings.poll_seconds,
        batch_size=settings.batch_size,
        batch_wait_seconds=settings.batch_wait_ms / 1000,
        models=settings.worker_models or None,
        listen=settings.listen,
        keep_warm=[settings.realtime_model] if settings.realtime_warm else [],
        screening=Screening.from_settings(settings),
    )


def fast_paths(settings: Settings) -> FastPaths:
    """The engine fast paths the settings choose (engine/fast_paths.py)."""
    from sfumato.engine.fast_paths import FastPaths

    return FastPaths(
        channels_last=settings.channels_last,
        fuse_qkv=settings.fuse_qkv,
        attention_backend=settings.attention_backend,
        text_cache=settings.text_embedding_cache,
        compile=settings.compile,
        compile_mode=settings.compile_mode,
        compile_dir=settings.resolved_compile_dir,
        feature_reuse=settings.feature_reuse_interval if settings.quality_mode == "fast" else 0,
    )


def build_webhook_sender(ctx: Context) -> WebhookSender | None:
    """The webhook delivery loop over the context's database, or None when delivery is off."""
    if not ctx.settings.webhook_delivery:
        return None
    from sfumato.webhooks.sender import WebhookSender

    return WebhookSender.from_settings(ctx.settings, db=ctx.db, blobs=ctx.blobs, catalog=ctx.catalog)
