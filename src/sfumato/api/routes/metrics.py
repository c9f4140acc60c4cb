"""``/metrics``: Prometheus text exposition of this process and of the deployment's shared state."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from sfumato.api.deps import ContextDep
from sfumato.observability.metrics import exposition

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
def metrics(ctx: ContextDep) -> Response:
    return Response(exposition(ctx.db), media_type=CONTENT_TYPE_LATEST)
