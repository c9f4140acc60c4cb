"""Dependencies as types: the service context and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from sfumato.service.context import Context
from sfumato.service.keys import Principal, authenticate


def get_context(request: Request) -> Context:
    context: Context = request.app.state.context
    return context


ContextDep = Annotated[Context, Depends(get_context)]


def get_principal(ctx: ContextDep, authorization: Annotated[str | None, Header()] = None) -> Principal:
    return authenticate(ctx, authorization)


PrincipalDep = Annotated[Principal, Depends(get_principal)]
