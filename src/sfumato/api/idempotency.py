"""The ``Idempotency-Key`` header on every creating POST, as ASGI middleware.

Middleware rather than a per-route dependency so every POST under the API prefix gets
it, present and future, without each route opting in. Requests without the header pass
straight through; the rules live in ``service.idempotency``. A route whose answer holds a
secret shown once (a new API key) is left out: replaying it would mean storing the secret.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sfumato.api.asgi import header, read_body, replaying, send_json
from sfumato.api.auth_gate import PRINCIPAL
from sfumato.api.errors import error_response_at
from sfumato.errors import SfumatoError
from sfumato.service import idempotency
from sfumato.service.context import Context
from sfumato.service.keys import Principal

HEADER = "idempotency-key"


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, *, prefix: str, unstored: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.prefix = prefix
        self.unstored = unstored  # paths whose answers may not be kept for a replay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].startswith(self.prefix)
            or scope["path"].rstrip("/") in self.unstored
        ):
            await self.app(scope, receive, send)
            return
        key = header(scope, HEADER.encode())
        if key is None:
            await self.app(scope, receive, send)
            return
        principal: Principal | None = scope.get(PRINCIPAL)  # checked by the auth gate, outside
        if principal is None:
            await self.app(scope, receive, send)  # the route answers 401 as usual
            return
        ctx: Context = scope["app"].state.context
        body = await read_body(receive)
        fingerprint = idempotency.request_hash(
            scope["method"], scope["path"], scope.get("query_string", b"").decode(), body
        )
        try:
            outcome = await run_in_threadpool(
                lambda: idempotency.begin(
                    ctx,
                    account_id=principal.account_id,
                    key=key,
                    method=scope["method"],
                    path=scope["path"],
                    fingerprint=fingerprint,
                )
            )
        except SfumatoError as exc:
            await error_response_at(scope["path"], exc)(scope, receive, send)
            return
        if isinstance(outcome, idempotency.Replay):
            extra = [(b"idempotent-replayed", b"true")]
            await send_json(send, outcome.status_code, outcome.body.encode(), extra)
            return
        await self._run(scope, body, receive, send, ctx, outcome)

    async def _run(
        self,
        scope: Scope,
        body: bytes,
        receive: Receive,
        send: Send,
        ctx: Context,
        claim: idempotency.Claim,
    ) -> None:
        status = 500
        chunks: list[bytes] = []
        settled = False

        async def settle() -> None:
            """Store a 2xx answer under the key, or free the key: before the answer's last
            part goes out, so a retry sent the moment it arrives finds the key settled."""
            nonlocal settled
            settled = True
            if 200 <= status < 300:
                text = b"".join(chunks).decode("utf-8", errors="replace")
                await run_in_threadpool(
                    lambda: idempotency.succeed(ctx, claim, status_code=status, body=text)
                )
            else:
                await run_in_threadpool(idempotency.release, ctx, claim)

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await settle()
            await send(message)

        try:
            with idempotency.handling(claim):
                await self.app(scope, replaying(body, receive), capture)
        except BaseException:
            if not settled:
                await run_in_threadpool(idempotency.release, ctx, claim)
            raise
        if not settled:  # the application ended without finishing an answer
            await settle()
