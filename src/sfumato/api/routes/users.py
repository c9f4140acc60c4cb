"""``/me``: the caller's account and balances; sfumato's addition: its credit ledger (keys: api_keys.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.schemas.common import compact, timestamp
from sfumato.service.accounts import me, own_credit_history

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


@router.get("/me/credit-ledger")
def get_credit_ledger(
    ctx: ContextDep, principal: PrincipalDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> dict[str, Any]:
    """The newest ledger lines first, each with the balance it left."""
    return {
        "credit_ledger": [
            compact(
                {
                    "createdAt": timestamp(line.at),
                    "kind": line.kind,
                    "amount": line.amount,
                    "balanceAfter": line.balance_after,
                    "subjectKind": line.subject_kind,
                    "subjectId": line.subject_id,
                    "note": line.note,
                }
            )
            for line in own_credit_history(ctx, principal, limit=limit)
        ]
    }
