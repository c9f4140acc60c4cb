"""Admission: the one way a request that charges credits is recorded.

Generations, edits, variations, realtime requests, prompt tools and the first step of a
blueprint execution all come here: each builds a :class:`~sfumato.store.intake.Submission`
with :func:`submission` (its subject's row, its job, its price) and hands it to
:func:`admit`, which the intake writes under the same rules for all — de-duplication
(generations), the ``Idempotency-Key`` link, the debit, the queue-depth cap and the daily
budget — in one transaction with the job. A refusal becomes the error the client sees, and
nothing of it is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import Table

from sfumato.errors import SfumatoError
from sfumato.service import guardrails, idempotency, policy
from sfumato.service.context import Context
from sfumato.service.keys import Principal
from sfumato.store import queue
from sfumato.store.clock import utcnow
from sfumato.store.intake import Accepted, Outcome, Refused, Submission
from sfumato.store.models import new_id

__all__ = ["Accepted", "NotLeased", "admit", "admit_async", "submission"]


class NotLeased(Exception):
    """A submission that was to be written leased or not at all found its account without a
    free slot: nothing of it was written (``Submission.lease_only``)."""


def submission(
    ctx: Context,
    principal: Principal,
    *,
    cost: int,
    subject_kind: str,
    subject_id: str,
    subject_table: Table | None = None,
    subject: dict[str, Any] | None = None,
    job: dict[str, Any] | None = None,
    request_hash: str | None = None,
    keyed: bool = True,
    texts: Iterable[str | None] = (),
    rows: Iterable[tuple[Table, dict[str, Any]]] = (),
    answer: tuple[str, str] | None = None,
    covers: int = 0,
) -> Submission:
    """A request to admit; ``job`` is a kind's ``job_row`` (given an id here). ``keyed``: link the
    request's ``Idempotency-Key`` to what it creates (for subjects whose answer can be read again).
    ``texts``: every text the request carries (prompts, negative prompts, instructions): the
    content policy refuses it here when one falls under a category (``service.policy``).
    ``rows``, ``answer``, ``covers``: further rows written with the subject, the (kind, id) the
    ``Idempotency-Key`` names instead of the subject, what the balance and the day's budget
    must cover beyond ``cost`` (see :class:`~sfumato.store.intake.Submission`)."""
    policy.check(ctx, principal.account_id, texts, f"{subject_kind} request")
    now = utcnow()
    window = ctx.settings.dedupe_window_seconds
    return Submission(
        account_id=principal.account_id,
        cost=cost,
        subject_kind=subject_kind,
        subject_id=subject_id,
        subject_table=subject_table,
        subject=subject,
        job={"id": new_id(), **job, "state": queue.QUEUED} if job is not None else None,
        request_hash=request_hash if window > 0 else None,
        dedupe_since=now - timedelta(seconds=window) if window > 0 else None,
        idempotency_record=idempotency.claimed_record() if keyed else None,
        max_queued=ctx.settings.max_queued_per_account,
        daily_budget=ctx.settings.daily_credit_budget,
        budget_day_start=guardrails.day_start(now),
        rows=tuple(rows),
        answer=answer,
        covers=covers,
    )


def admit(ctx: Context, submitted: Submission, what: str) -> Accepted:
    """Record ``submitted`` (from a thread: waits for its group to commit) or raise why not."""
    return _accepted(ctx, submitted, ctx.intake.submit(submitted).result(), what)


async def admit_async(ctx: Context, submitted: Submission, what: str) -> Accepted:
    """:func:`admit` for the event loop: never blocks it."""
    return _accepted(ctx, submitted, await ctx.intake.record(submitted), what)


def _accepted(ctx: Context, submitted: Submission, outcome: Outcome, what: str) -> Accepted:
    if isinstance(outcome, Refused):
        if outcome.reason == "unleased":
            raise NotLeased
        raise refusal(ctx, submitted, outcome, what)
    return outcome


def refusal(ctx: Context, submitted: Submission, refused: Refused, what: str) -> SfumatoError:
    if refused.reason == "credits":
        return guardrails.insufficient_credits(what, submitted.required)
    if refused.reason == "queue":
        return queue.queue_full(refused.detail)
    return guardrails.over_daily_budget(
        what, submitted.required, refused.detail, ctx.settings.daily_credit_budget
    )
