"""The platform model catalog as clients see it."""

from __future__ import annotations

from sfumato.service.context import Context
from sfumato.service.views import PlatformModelView


def list_platform_models(ctx: Context) -> list[PlatformModelView]:
    views = []
    for entry in ctx.catalog.entries():
        ready = ctx.catalog.is_ready(entry, ctx.models_dir)
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
