"""The realtime canvas routes, once: what both of their ways in do with a body that validated.

The routes (:mod:`sfumato.api.routes.realtime`) document the endpoints and word every
refusal of a body; the lean path (:mod:`sfumato.api.lean_path`) serves the plainly valid
request without the framework's per-request work, which the caller would wait for. Past
validation both call :func:`run`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from starlette.types import Scope

from sfumato.api.answer import Answer, json_answer
from sfumato.api.deps import count_request
from sfumato.api.lean_path import LeanRoute
from sfumato.api.schemas.realtime import LcmBody, LcmInpaintingBody, LcmUpscaleBody, lcm_job
from sfumato.service import realtime
from sfumato.service.context import Context
from sfumato.service.keys import Principal


async def run(ctx: Context, principal: Principal, body: LcmBody, scope: Scope, *, operation: str) -> Answer:
    """Count the request against ``principal``'s rate limits (once), run it on the canvas and
    answer with its picture; the hand-off's end is let go once the answer is sent.

    Refusals leave as :class:`~sfumato.errors.SfumatoError`, for the caller's envelope.
    """
    decision = await count_request(ctx, principal, scope)
    after: list[Callable[[], None]] = []
    result = await realtime.run_canvas(ctx, principal, body.canvas_request(operation), after.append)
    return json_answer(lcm_job(result), decision, tuple(after))


# Path (under the API prefix) → its body model and operation.
ROUTES: dict[str, tuple[type[LcmBody], str]] = {
    "/generations-lcm": (LcmBody, realtime.GENERATE),
    "/lcm-instant-refine": (LcmBody, realtime.REFINE),
    "/lcm-inpainting": (LcmInpaintingBody, realtime.INPAINT),
    "/lcm-upscale": (LcmUpscaleBody, realtime.UPSCALE),
}
LEAN_ROUTES = {
    path: LeanRoute(body, partial(run, operation=operation)) for path, (body, operation) in ROUTES.items()
}
