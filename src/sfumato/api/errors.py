"""Every error leaves as Leonardo's envelope, ``{"error", "path", "code"}``; under ``/v1`` as
OpenAI's (:mod:`sfumato.api.openai_compat.errors`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sfumato.api.openai_compat import errors as openai_errors
from sfumato.errors import SfumatoError

log = logging.getLogger(__name__)

INVALID_JSON = "invalid-json"


def error_body(message: str, code: str, path: str = "$") -> dict[str, str]:
    return {"error": message, "path": path, "code": code}


def error_response(exc: SfumatoError) -> JSONResponse:
    """The envelope for a domain error; also an ASGI app, so middleware can answer with it."""
    headers = dict(getattr(exc, "headers", None) or {})  # e.g. Retry-After on a 429
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(error_body(exc.message, exc.code), status_code=exc.status, headers=headers)


def error_response_at(path: str, exc: SfumatoError) -> JSONResponse:
    """:func:`error_response` in the envelope of the surface ``path`` belongs to (for middleware)."""
    if openai_errors.is_openai(path):
        headers = dict(getattr(exc, "headers", None) or {})
        return openai_errors.error_response(
            exc.status, exc.message, exc.code, param=getattr(exc, "param", None), headers=headers
        )
    return error_response(exc)


def _respond(
    request: Request,
    status: int,
    message: str,
    code: str,
    path: str = "$",
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The error in the envelope of the surface ``request`` came in on."""
    if openai_errors.is_openai(request.url.path):
        param = openai_errors.param_of(path)
        return openai_errors.error_response(status, message, code, param=param, headers=headers)
    return JSONResponse(error_body(message, code, path), status_code=status, headers=headers)


def _describe(error: Mapping[str, Any]) -> tuple[str, str]:
    location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
    path = "$" + "".join(f".{part}" for part in location)
    field = ".".join(location) or "body"
    message = str(error.get("msg", "invalid value"))
    return f"{field}: {message}", path


def _malformed_json(request: Request, error: Mapping[str, Any]) -> JSONResponse:
    reason = str((error.get("ctx") or {}).get("error", "not JSON"))
    position = next((part for part in error.get("loc", ()) if isinstance(part, int)), None)
    where = f" at character {position}" if position is not None else ""
    return _respond(request, 400, f"Malformed JSON body: {reason}{where}", INVALID_JSON)


def install(app: FastAPI) -> None:
    @app.exception_handler(SfumatoError)
    async def _domain(request: Request, exc: SfumatoError) -> JSONResponse:
        return error_response_at(request.url.path, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if errors and errors[0].get("type") == "json_invalid":
            return _malformed_json(request, errors[0])
        message, path = _describe(errors[0]) if errors else ("Invalid request", "$")
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        return _respond(request, 400, message, "invalid-request", path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # The framework's answer to a JSON body whose bytes are not text.
            message = f"Malformed JSON body: not UTF-8 (byte {exc.__cause__.start})"
            return _respond(request, 400, message, INVALID_JSON)
        code = {
            400: "invalid-request",
            401: "access-denied",
            403: "access-denied",
            404: "not-found",
            405: "method-not-allowed",
        }.get(exc.status_code, "unexpected")
        return _respond(request, exc.status_code, str(exc.detail), code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _respond(request, 500, "Internal server error", "unexpected")
