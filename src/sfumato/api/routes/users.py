"""``/me``: the caller's account and balances; sfumato's additions: its credit ledger and its limits
(keys: api_keys.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.schemas.common import timestamp
from sfumato.api.schemas.users import ledger_line_object
from sfumato.service.accounts import me, own_credit_history, own_limits

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
            ledger_line_object(line) for line in own_credit_history(ctx, principal, limit=limit)
        ]
    }


@router.get("/me/limits")
def get_limits(ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    """The limits the server applies to the caller, with what is in use now."""
    limits = own_limits(ctx, principal)
    return {
        "limits": {
            "rateLimitPerKey": limits.rate_per_key,
            "rateLimitPerAccount": limits.rate_per_account,
            "concurrencySlots": limits.concurrency_slots,
            "maxQueuedJobs": limits.max_queued,
            "queuedJobs": limits.queued,
            "dailyCreditBudget": limits.daily_budget or None,
            "creditsSpentToday": limits.spent_today,
            "maxImagesPerRequest": limits.max_images,
            "maxResolution": limits.max_resolution,
            "maxInferenceSteps": limits.max_steps,
            "maxVideoSeconds": limits.max_video_seconds,
        }
    }
