"""Dependencies as types: the service context and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request, Response

from sfumato.observability.logs import bind
from sfumato.service.context import Context
from sfumato.service.keys import Principal, authenticate


def get_context(request: Request) -> Context:
    context: Context = request.app.state.context
    return context


ContextDep = Annotated[Context, Depends(get_context)]


def get_principal(
    ctx: ContextDep, response: Response, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    """The caller, once its key is valid and its rate limits allow one more request."""
    principal = authenticate(ctx, authorization)
    bind(account_id=principal.account_id)
    decision = ctx.rate_limiter.hit(api_key_id=principal.api_key_id, account_id=principal.account_id)
    if decision is not None:
        response.headers.update(decision.headers())
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
