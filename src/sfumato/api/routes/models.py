"""``/platformModels``: the catalog, with which models are ready to run here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.schemas.common import compact
from sfumato.service.models import list_platform_models

router = APIRouter(tags=["models"])


@router.get("/platformModels")
def platform_models(ctx: ContextDep, _principal: PrincipalDep) -> dict[str, Any]:
    return {
        "custom_models": [
            compact(
                {
                    "id": model.id,
                    "name": model.name,
                    "description": model.description,
                    "featured": model.featured,
                    "nsfw": model.nsfw,
                    # sfumato's additions: readiness and how to obtain absent weights.
                    "key": model.key,
                    "family": model.family,
                    "sdVersion": model.sd_version or None,  # no Leonardo value for the family
                    "modelWidth": model.default_width,
                    "modelHeight": model.default_height,
                    "ready": model.ready,
                    "howToObtain": model.how_to_obtain,
                }
            )
            for model in list_platform_models(ctx)
        ]
    }
