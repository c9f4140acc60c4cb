"""Operator guardrails, checked before any work is queued.

Size guardrails (images per request, longest side, steps, video length) refuse a request
with a 400 that names the server's limit; the per-account daily credit budget refuses
with a 429 whose ``Retry-After`` points at the next UTC midnight, when the budget renews.
Every job that charges credits does so through :func:`charge`, so the budget holds for
all of them.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from sfumato.config import Settings
from sfumato.errors import InsufficientCredits, InvalidRequest, QuotaExceeded
from sfumato.store import credits
from sfumato.store.clock import utcnow


class LimitExceeded(InvalidRequest):
    code = "limit-exceeded"


class DailyBudgetExceeded(QuotaExceeded):
    code = "daily-budget-exceeded"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after)}


def check_image_request(settings: Settings, *, width: int, height: int, num_images: int, steps: int) -> None:
    if num_images > settings.max_images:
        raise LimitExceeded(f"num_images is {num_images}; this server allows at most {settings.max_images}")
    if max(width, height) > settings.max_resolution:
        raise LimitExceeded(
            f"{width}x{height} is larger than this server allows: at most {settings.max_resolution} px a side"
        )
    if steps > settings.max_steps:
        raise LimitExceeded(f"{steps} inference steps; this server allows at most {settings.max_steps}")


def charge(
    session: Session, settings: Settings, *, account_id: str, amount: int, generation_id: str, what: str
) -> None:
    """Debit ``amount`` for a job inside the caller's transaction, within balance and daily budget.

    The debit comes first: its row lock (PostgreSQL) or the write lock (SQLite) orders
    concurrent charges of an account, so the spend each one then checks includes all
    earlier charges, and two requests cannot both slip under the budget.
    """
    if not credits.debit(session, account_id=account_id, amount=amount, generation_id=generation_id):
        raise insufficient_credits(what, amount)
    budget = settings.daily_credit_budget
    if budget <= 0:
        return
    spent = credits.spent_since(session, account_id=account_id, since=day_start(utcnow()))
    if spent > budget:
        raise over_daily_budget(what, amount, spent, budget)


def day_start(now: datetime) -> datetime:
    """The start of ``now``'s UTC day, when daily budgets renew."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def insufficient_credits(what: str, amount: int) -> InsufficientCredits:
    return InsufficientCredits(
        f"This {what} costs {amount} credits and the account's balance is lower; "
        "ask an operator to grant credits (sfumato credits grant)"
    )


def over_daily_budget(what: str, amount: int, spent: int, budget: int) -> DailyBudgetExceeded:
    """The refusal of a charge that takes today's spending to ``spent``, over ``budget``."""
    now = utcnow()
    renews = day_start(now) + timedelta(days=1)
    return DailyBudgetExceeded(
        f"This {what} costs {amount} credits and would take today's spending to {spent}, over the "
        f"daily budget of {budget}; the budget renews at 00:00 UTC",
        retry_after=max(1, math.ceil((renews - now).total_seconds())),
    )
