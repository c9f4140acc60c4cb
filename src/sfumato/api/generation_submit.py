"""``POST /generations``, once: what both of its ways in do with a body that validated.

The route (:mod:`sfumato.api.routes.generations`) documents the endpoint and words every
refusal of a body; the lean path (:mod:`sfumato.api.lean_path`) serves the plainly valid
request without the framework's per-request work. Past validation both call :func:`submit`,
so the request's counting, the service call and the answer are written here alone.
"""

from __future__ import annotations

from starlette.types import Scope

from sfumato.api.answer import Answer, json_answer
from sfumato.api.deps import count_request
from sfumato.api.lean_path import LeanRoute
from sfumato.api.schemas.generations import CreateGenerationBody, created_job
from sfumato.service import generations
from sfumato.service.context import Context
from sfumato.service.keys import Principal


async def submit(ctx: Context, principal: Principal, body: CreateGenerationBody, scope: Scope) -> Answer:
    """Count the request against ``principal``'s rate limits (once: the route's caller
    dependency counted it before its body was judged), submit it and build the answer.

    Refusals leave as :class:`~sfumato.errors.SfumatoError`, for the caller's envelope.
    """
    decision = await count_request(ctx, principal, scope)
    created = await generations.submit_generation(ctx, principal, body.to_request())
    return json_answer(created_job(created.generation_id, created.credit_cost), decision)


LEAN_ROUTES = {"/generations": LeanRoute(CreateGenerationBody, submit)}
