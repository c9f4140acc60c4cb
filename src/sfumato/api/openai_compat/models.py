"""``/v1/models``: the catalog's image models by key, and OpenAI's names that stand for them."""

from __future__ import annotations

from typing import Any

from sfumato.service.context import Context
from sfumato.service.models import list_platform_models

OWNER = "sfumato"


def models(ctx: Context) -> list[dict[str, Any]]:
    """OpenAI's ``Model`` objects: each image model, then each configured alias of one."""
    keys = [view.key for view in list_platform_models(ctx)]
    aliases = [name for name, key in ctx.settings.openai_models.items() if key in keys and name not in keys]
    return [{"id": name, "object": "model", "created": 0, "owned_by": OWNER} for name in keys + aliases]
