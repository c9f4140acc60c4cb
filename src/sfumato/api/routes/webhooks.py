"""``/webhooks/deliveries``: the caller's webhook events, their attempts, and re-sending one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.schemas.webhooks import delivery_object
from sfumato.service import webhooks

router = APIRouter(tags=["webhooks"])


@router.get("/webhooks/deliveries")
def list_deliveries(
    ctx: ContextDep,
    principal: PrincipalDep,
    state: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    views = webhooks.list_deliveries(
        ctx, account_id=principal.account_id, state=state, offset=offset, limit=limit
    )
    return {"webhook_deliveries": [delivery_object(view) for view in views]}


@router.get("/webhooks/deliveries/{delivery_id}")
def get_delivery(delivery_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    view = webhooks.get_delivery(ctx, delivery_id, account_id=principal.account_id)
    return {"webhook_delivery": delivery_object(view)}


@router.post("/webhooks/deliveries/{delivery_id}/resend")
def resend_delivery(delivery_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    view = webhooks.resend(ctx, delivery_id, account_id=principal.account_id)
    return {"webhook_delivery": delivery_object(view)}
