"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from sfumato.api.deps import ContextDep
from sfumato.service.health import readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", include_in_schema=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", include_in_schema=False, response_model=None)
def readyz(ctx: ContextDep) -> dict[str, Any] | JSONResponse:
    checks = readiness(ctx)
    ready = all(value == "ok" for value in checks.values())
    body = {"status": "ready" if ready else "unavailable", "checks": checks}
    return body if ready else JSONResponse(body, status_code=503)
