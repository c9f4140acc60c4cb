"""The model catalog as clients and operators see it."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from sfumato.engine.catalog import ModelEntry
from sfumato.service import availability
from sfumato.service.availability import FleetModels
from sfumato.service.context import Context
from sfumato.service.views import CatalogModelView, PlatformModelView


def list_platform_models(ctx: Context) -> list[PlatformModelView]:
    """The image-generation models (Leonardo's platform models), ready when a live worker
    runs them; upscalers and segmenters are not platform models and stay out."""
    views = []
    for entry in ctx.catalog.entries():
        if not entry.generates_images:
            continue
        ready = availability.is_available(ctx, entry)
        views.append(
            PlatformModelView(
                id=entry.id,
                key=entry.key,
                name=entry.name,
                description=entry.description,
                family=entry.family,
                sd_version=entry.sd_version,
                featured=entry.featured,
                nsfw=entry.nsfw,
                ready=ready,
                how_to_obtain=None if ready else ctx.catalog.how_to_obtain(entry),
                default_width=entry.default_width,
                default_height=entry.default_height,
            )
        )
    return views


def list_catalog(ctx: Context) -> list[CatalogModelView]:
    """Every catalog model — pipelines, upscalers, segmenters — with whether this machine
    has its weights and whether a live worker runs it (``sfumato models list``; None where
    the database cannot say, as before its first migration)."""
    try:
        fleet: FleetModels | None = ctx.live_models.current()
    except SQLAlchemyError:
        fleet = None
    return [
        CatalogModelView(
            key=entry.key,
            id=entry.id,
            family=entry.family,
            name=entry.name,
            weights_here=ctx.catalog.is_ready(entry, ctx.models_dir),
            served=None if fleet is None else entry.key in fleet,
            how_to_obtain=ctx.catalog.how_to_obtain(entry),
            memory=memory_choices(entry),
        )
        for entry in ctx.catalog.entries()
    ]


def memory_choices(entry: ModelEntry) -> str:
    """How a GPU holds ``entry`` (a CPU always runs float32): dtype, offloading, quantisation."""
    if not entry.generates_images:
        return "float32"
    parts = ["float16" if entry.dtype == "auto" else entry.dtype]
    if entry.offload != "none":
        parts.append(f"{entry.offload} offload")
    if entry.quantization != "none":
        parts.append(entry.quantization)
    return ", ".join(parts)
