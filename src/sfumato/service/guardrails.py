"""Operator guardrails, checked before any work is queued.

Size guardrails (images per request, longest side, steps, video length) refuse a request
with a 400 that names the server's limit; the per-account daily credit budget refuses
with a 429 whose ``Retry-After`` points at the next UTC midnight, when the budget renews.
Every request that charges credits is admitted through ``service/admission.py``, so the
budget holds for all of them.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sfumato.config import Settings
from sfumato.errors import InsufficientCredits, InvalidRequest, QuotaExceeded
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


def check_video_request(
    settings: Settings, *, width: int, height: int, frames: int, duration: float, model: str
) -> None:
    if duration > settings.max_video_seconds:
        raise LimitExceeded(
            f"duration is {duration:g} s; this server allows at most {settings.max_video_seconds:g} s"
        )
    if frames > settings.max_video_frames:
        raise LimitExceeded(
            f"{duration:g} s on {model} is {frames} frames; this server allows at most "
            f"{settings.max_video_frames}"
        )
    if max(width, height) > settings.max_video_resolution:
        raise LimitExceeded(
            f"{width}x{height} is larger than this server allows for a video: at most "
            f"{settings.max_video_resolution} px a side"
        )


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
