"""``POST /generations``, once: what both of its ways in do with a body that validated.

The route (:mod:`sfumato.api.routes.generations`) documents the endpoint and words every
refusal of a body; the lean path (:mod:`sfumato.api.submit_path`) serves the plainly valid
request without the framework's per-request work. Past validation both call :func:`submit`,
so the request's counting, the service call and the answer are written here alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import Scope, Send

from sfumato.api.asgi import send_json
from sfumato.api.deps import count_request
from sfumato.api.schemas.generations import CreateGenerationBody, created_job
from sfumato.service import generations
from sfumato.service.context import Context
from sfumato.service.keys import Principal


@dataclass(frozen=True, slots=True)
class Answer:
    """The ``200``: its JSON, and the headers besides its type and length (the rate limits)."""

    body: bytes
    headers: list[tuple[bytes, bytes]]

    async def send(self, send: Send) -> None:
        await send_json(send, 200, self.body, self.headers)

    def response(self) -> Response:
        response = Response(self.body, media_type="application/json")
        response.raw_headers.extend(self.headers)
        return response


async def submit(ctx: Context, principal: Principal, body: CreateGenerationBody, scope: Scope) -> Answer:
    """Count the request against ``principal``'s rate limits (once: the route's caller
    dependency counted it before its body was judged), submit it and build the answer.

    Refusals leave as :class:`~sfumato.errors.SfumatoError`, for the caller's envelope.
    """
    decision = await count_request(ctx, principal, scope)
    created = await generations.submit_generation(ctx, principal, body.to_request())
    answer = created_job(created.generation_id, created.credit_cost)
    headers = decision.headers().items() if decision is not None else ()
    return Answer(
        json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode(),
        [(name.lower().encode(), value.encode()) for name, value in headers],
    )
