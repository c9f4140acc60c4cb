"""A ``200`` with a JSON body, built once and sent by a route or by a lean path alike."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Send

from sfumato.api.asgi import send_json
from sfumato.service.rate_limits import Decision


@dataclass(frozen=True, slots=True)
class Answer:
    """The JSON, the headers besides its type and length (the rate limits), and what runs
    once it is sent (cheap work: it runs on the event loop, after the caller has it)."""

    body: bytes
    headers: list[tuple[bytes, bytes]]
    after: tuple[Callable[[], None], ...] = ()

    async def send(self, send: Send) -> None:
        await send_json(send, 200, self.body, self.headers)
        self.run_after()

    def response(self) -> Response:
        background = BackgroundTask(_run_async, self.run_after) if self.after else None
        response = Response(self.body, media_type="application/json", background=background)
        response.raw_headers.extend(self.headers)
        return response

    def run_after(self) -> None:
        for call in self.after:
            call()


def json_answer(
    content: Any, decision: Decision | None, after: tuple[Callable[[], None], ...] = ()
) -> Answer:
    """``content`` as compact JSON, with ``decision``'s rate-limit headers."""
    headers = decision.headers().items() if decision is not None else ()
    return Answer(
        json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode(),
        [(name.lower().encode(), value.encode()) for name, value in headers],
        after,
    )


async def _run_async(call: Callable[[], None]) -> None:
    call()  # a coroutine, so the framework runs it in place rather than on a thread
