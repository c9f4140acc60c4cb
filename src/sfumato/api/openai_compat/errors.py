"""OpenAI's error envelope, ``{"error": {"message", "type", "param", "code"}}``, for ``/v1``.

Domain errors keep their HTTP status, except one: an exhausted balance is OpenAI's 429
``insufficient_quota`` (sfumato's Leonardo surface answers 402), which its SDK raises as
``RateLimitError`` the way it does for an OpenAI account out of credit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse

PREFIX = "/v1"

# sfumato's codes that OpenAI spells its own way: (status, type, code).
_OWN_CODES = {
    "insufficient-credits": (429, "insufficient_quota", "insufficient_quota"),
    "rate-limited": (429, "requests", "rate_limit_exceeded"),
    "access-denied": (401, "invalid_request_error", "invalid_api_key"),
    "content-policy": (400, "invalid_request_error", "content_policy_violation"),
}
_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "requests",
}


def is_openai(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def error_response(
    status: int,
    message: str,
    code: str,
    *,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """OpenAI's envelope for an error sfumato describes by status, message and its own code."""
    status, body = error_body(status, message, code, param=param)
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def error_body(
    status: int, message: str, code: str, *, param: str | None = None
) -> tuple[int, dict[str, Any]]:
    """OpenAI's status and ``{"error": …}`` body for an error (also a stream's ``error`` event)."""
    kind = _TYPES.get(status, "server_error")
    wire_code: str | None = code.replace("-", "_")
    if code in _OWN_CODES and not (code == "access-denied" and status == 403):
        status, kind, wire_code = _OWN_CODES[code]
    return status, {"error": {"message": message, "type": kind, "param": param, "code": wire_code}}


def param_of(path: str) -> str | None:
    """The request field a Leonardo-style ``$.a.b`` path names (``a.b``), if any."""
    field = path.removeprefix("$").lstrip(".")
    return field or None
