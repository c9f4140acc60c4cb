"""Domain errors. The API maps each class to one HTTP status and Leonardo's error shape."""

from __future__ import annotations


class SfumatoError(Exception):
    """Base of every error a client may see; ``code`` is Leonardo's machine-readable code."""

    status = 500
    code = "unexpected"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidRequest(SfumatoError):
    status = 400
    code = "invalid-request"


class Unauthorized(SfumatoError):
    status = 401
    code = "access-denied"


class Forbidden(SfumatoError):
    status = 403
    code = "access-denied"


class NotFound(SfumatoError):
    status = 404
    code = "not-found"


class Conflict(SfumatoError):
    status = 409
    code = "conflict"


class PayloadTooLarge(SfumatoError):
    """The request body is larger than its route accepts; it was not read to the end."""

    status = 413
    code = "entity-too-large"


class InsufficientCredits(SfumatoError):
    status = 402
    code = "insufficient-credits"


class QuotaExceeded(SfumatoError):
    status = 429
    code = "rate-limited"


class TimedOut(SfumatoError):
    """The work was not done within the time a synchronous request waits for it."""

    status = 504
    code = "timeout"
