"""Every error leaves as Leonardo's envelope: ``{"error", "path", "code"}``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sfumato.errors import SfumatoError

log = logging.getLogger(__name__)


def error_body(message: str, code: str, path: str = "$") -> dict[str, str]:
    return {"error": message, "path": path, "code": code}


def _describe(error: Mapping[str, Any]) -> tuple[str, str]:
    location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
    path = "$" + "".join(f".{part}" for part in location)
    field = ".".join(location) or "body"
    message = str(error.get("msg", "invalid value"))
    if error.get("type") == "json_invalid":
        return "Malformed JSON body", "$"
    return f"{field}: {message}", path


def install(app: FastAPI) -> None:
    @app.exception_handler(SfumatoError)
    async def _domain(_request: Request, exc: SfumatoError) -> JSONResponse:
        headers = dict(getattr(exc, "headers", None) or {})  # e.g. Retry-After on a 429
        if exc.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse(error_body(exc.message, exc.code), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        message, path = _describe(errors[0]) if errors else ("Invalid request", "$")
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        return JSONResponse(error_body(message, "invalid-request", path), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            401: "access-denied",
            403: "access-denied",
            404: "not-found",
            405: "method-not-allowed",
        }.get(exc.status_code, "unexpected")
        return JSONResponse(error_body(str(exc.detail), code), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(error_body("Internal server error", "unexpected"), status_code=500)
