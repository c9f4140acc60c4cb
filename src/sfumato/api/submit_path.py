"""A lean path for ``POST /generations``, the request a busy server receives most.

Through the framework, the route's parameters are solved per request (the context, the
caller and its rate limits, the body, the response for headers), the body is parsed into
Python objects and then validated, and the answer goes through a response class and its
encoder: together more CPU than the submission's own work. This middleware, the innermost,
serves the request that is plainly well formed — a JSON body that
:class:`~sfumato.api.schemas.generations.CreateGenerationBody` accepts, from a caller the
auth gate already knows — with the same steps in place: the same rate limits, the same
service call (admission and all its controls), the same answer, the same error envelope.
Anything else (a body that does not validate, another content type, a caller that is not
yet known) goes to the route as before, with the body handed on, so every refusal is worded
by one piece of code. The route stays the documented endpoint. Past validation, both ways
call :func:`sfumato.api.generation_submit.submit`, which counts, submits and answers.
"""

from __future__ import annotations

from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from sfumato.api.asgi import header, read_body, replaying
from sfumato.api.auth_gate import ENDPOINT, PRINCIPAL
from sfumato.api.errors import error_response_at
from sfumato.api.generation_submit import submit
from sfumato.api.schemas.generations import CreateGenerationBody
from sfumato.errors import SfumatoError
from sfumato.observability.logs import bind
from sfumato.service.context import Context
from sfumato.service.keys import Principal


class SubmitPathMiddleware:
    def __init__(self, app: ASGIApp, *, prefix: str, path: str) -> None:
        self.app = app
        self.path = prefix + path
        self.template = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal: Principal | None = scope.get(PRINCIPAL)
        if (
            scope["type"] != "http"
            or scope["path"] != self.path
            or scope["method"] != "POST"
            or principal is None
            or not _json(header(scope, b"content-type"))
        ):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        try:
            request = CreateGenerationBody.model_validate_json(body)
        except ValidationError:
            await self.app(scope, replaying(body, receive), send)  # the route words the refusal
            return
        scope[ENDPOINT] = self.template  # what the request log names
        ctx: Context = scope["app"].state.context
        bind(account_id=principal.account_id)
        try:
            answer = await submit(ctx, principal, request, scope)
        except SfumatoError as exc:
            await error_response_at(self.path, exc)(scope, receive, send)
            return
        await answer.send(send)


def _json(content_type: str | None) -> bool:
    return content_type is not None and content_type.split(";", 1)[0].strip().lower() == "application/json"
