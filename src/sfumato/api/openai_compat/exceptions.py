"""A 400 that names the request field at fault, as OpenAI's ``param`` does."""

from __future__ import annotations

from sfumato.errors import InvalidRequest


class InvalidParam(InvalidRequest):
    def __init__(self, message: str, *, param: str, code: str = "invalid_value") -> None:
        super().__init__(message, code=code)
        self.param = param
