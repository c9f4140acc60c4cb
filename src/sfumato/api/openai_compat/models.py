"""``/v1/models``: the catalog's image and video models by key, and OpenAI's names that
stand for them."""

from __future__ import annotations

from typing import Any

from sfumato.engine.catalog import VIDEO_FAMILIES
from sfumato.service.context import Context
from sfumato.service.models import list_platform_models

OWNER = "sfumato"


def models(ctx: Context) -> list[dict[str, Any]]:
    """OpenAI's ``Model`` objects: each image model, each video model, then each configured
    alias of one."""
    images = [view.key for view in list_platform_models(ctx)]
    clips = [e.key for e in ctx.catalog.entries() if e.family in VIDEO_FAMILIES and e.family != "svd"]
    keys = images + clips
    aliases = [
        name
        for table, among in ((ctx.settings.openai_models, images), (ctx.settings.openai_video_models, clips))
        for name, key in table.items()
        if key in among and name not in keys
    ]
    return [{"id": name, "object": "model", "created": 0, "owned_by": OWNER} for name in keys + aliases]
