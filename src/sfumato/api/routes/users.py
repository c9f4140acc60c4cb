"""``/me``: the caller's account and balances."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.schemas.common import timestamp
from sfumato.service.accounts import me

router = APIRouter(tags=["user"])


@router.get("/me")
def get_user_self(ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    account = me(ctx, principal)
    return {
        "user_details": [
            {
                "user": {"id": account.user_id, "username": account.username},
                "apiSubscriptionTokens": account.credit_balance,
                "apiPaidTokens": 0,
                "apiConcurrencySlots": account.concurrency_slots,
                "subscriptionTokens": 0,
                "subscriptionGptTokens": 0,
                "subscriptionModelTokens": 0,
                "paidTokens": 0,
                "apiPlanTokenRenewalDate": None,
                "tokenRenewalDate": None,
                "createdAt": timestamp(account.created_at),
            }
        ]
    }
