"""Structured logs: one JSON object per line, with the request, account and generation they belong to.

Context travels in a context variable holding one dict per request or job (``bound``);
``bind`` adds to that dict, and since the dict is shared, an id bound inside a worker
thread of the request (the account, once authenticated; the generation, once created)
shows on every later line of the request, the request's own summary line included.

What never reaches a log: ``Authorization`` headers, API keys and webhook secrets (no
code logs them, and the formatter masks anything shaped like one as a second line of
defence), and prompts — unless ``SFUMATO_LOG_SENSITIVE`` is on for debugging, the one
case in which the ``prompt`` field is written.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sfumato.config import Settings

CONTEXT_FIELDS = ("request_id", "account_id", "generation_id")
_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("sfumato_log", default=None)

# Fields a log call may add with ``extra=``; anything else stays out of the line.
FIELDS = ("method", "endpoint", "path", "status", "latency_ms", "event", "outcome", "job_id", "kind", "model",
          "seconds", "duration_ms", "attempt", "delivery_id", "cost", "prompt")  # fmt: skip
_SECRETS = [
    (re.compile(r"(?i)\bbearer\s+[^\s\"',]+"), "Bearer [redacted]"),
    (re.compile(r"\bsfu_[A-Za-z0-9_-]{8,}"), "sfu_[redacted]"),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]{8,}"), "whsec_[redacted]"),
]
_sensitive = False


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def bind(**values: str | None) -> None:
    """Attach ids to every line logged from here on in this request or job (no-op outside one)."""
    current = _context.get()
    if current is not None:
        current.update({name: value for name, value in values.items() if value})


def current(name: str) -> str | None:
    values = _context.get()
    return values.get(name) if values else None


@contextmanager
def bound(**values: str | None) -> Iterator[dict[str, str]]:
    """A fresh log context for one request or job, starting with ``values``."""
    fields = {name: value for name, value in values.items() if value}
    token = _context.set(fields)
    try:
        yield fields
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        context = _context.get() or {}
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None) or context.get(name)
            if value:
                line[name] = value
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None and not (name == "prompt" and not _sensitive):
                line[name] = value
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure(
    *, fmt: str = "json", level: str = "INFO", sensitive_fields: bool = False, stream: IO[str] | None = None
) -> None:
    """Route every logger (ours, uvicorn's, the libraries') through one handler on stderr."""
    global _sensitive
    _sensitive = sensitive_fields
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # httpx logs every request's full URL at INFO; a webhook URL may carry a receiver's token.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def configure_from(settings: Settings) -> None:
    """:func:`configure` as the settings say (SFUMATO_LOG_FORMAT, _LEVEL, _SENSITIVE)."""
    configure(fmt=settings.log_format, level=settings.log_level, sensitive_fields=settings.log_sensitive)
    logging.getLogger("alembic").setLevel(logging.WARNING)
