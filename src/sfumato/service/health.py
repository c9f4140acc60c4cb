"""Readiness: can this process reach what it needs to serve requests?"""

from __future__ import annotations

from sqlalchemy import text

from sfumato.service.context import Context


def readiness(ctx: Context) -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        with ctx.db.read() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        ctx.blobs.check()
        checks["blobs"] = "ok"
    except Exception as exc:
        checks["blobs"] = f"error: {type(exc).__name__}"
    return checks
