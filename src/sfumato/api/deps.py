"""Dependencies as types: the service context and the authenticated caller.

Both are coroutines, so a request whose key was checked moments ago and whose rate
limits count in memory is served without leaving the event loop; a database lookup or
a Redis round trip runs in the thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from sfumato.api.auth_gate import PRINCIPAL
from sfumato.api.credentials import principal_of
from sfumato.observability.logs import bind
from sfumato.service.context import Context
from sfumato.service.keys import Principal
from sfumato.service.rate_limits import Decision

COUNTED = "sfumato.rate_limit"  # scope key of the request's rate-limit decision, once counted


async def get_context(request: Request) -> Context:
    context: Context = request.app.state.context
    return context


ContextDep = Annotated[Context, Depends(get_context)]


async def get_principal(
    ctx: ContextDep,
    request: Request,
    response: Response,
    authorization: Annotated[str | None, Header()] = None,  # read from the scope; declared for OpenAPI
) -> Principal:
    """The caller, once its key (or studio session) is valid and its rate limits allow one
    more request.

    The caller was checked before the body was read (:mod:`sfumato.api.auth_gate`); the
    check here covers a route outside the gated prefix.
    """
    principal: Principal | None = request.scope.get(PRINCIPAL)
    if principal is None:
        principal = await principal_of(ctx, request.scope)
    bind(account_id=principal.account_id)
    decision = await count_request(ctx, principal, request.scope)
    if decision is not None:
        response.headers.update(decision.headers())
    return principal


async def count_request(ctx: Context, principal: Principal, scope: Scope) -> Decision | None:
    """Count the request ``scope`` of ``principal`` against its rate limits
    (:class:`RateLimited` when spent), once: asked again, the first decision is answered."""
    if COUNTED in scope:
        counted: Decision | None = scope[COUNTED]
        return counted
    limiter = ctx.rate_limiter
    if limiter.blocking:
        decision = await run_in_threadpool(
            limiter.hit, api_key_id=principal.api_key_id, account_id=principal.account_id
        )
    else:
        decision = limiter.hit(api_key_id=principal.api_key_id, account_id=principal.account_id)
    scope[COUNTED] = decision
    return decision


PrincipalDep = Annotated[Principal, Depends(get_principal)]
