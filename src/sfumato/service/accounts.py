"""The caller's own account, and operator actions on credits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sfumato.errors import InvalidRequest, NotFound
from sfumato.service import guardrails
from sfumato.service.context import Context
from sfumato.service.keys import Principal
from sfumato.service.views import AccountView
from sfumato.store import accounts, credits, queue
from sfumato.store.clock import utcnow


def me(ctx: Context, principal: Principal) -> AccountView:
    with ctx.db.read() as session:
        account = accounts.get_account(session, principal.account_id)
        if account is None:
            raise NotFound("Account not found")
        return AccountView(
            user_id=account.id,
            username=account.username,
            credit_balance=account.credit_balance,
            concurrency_slots=account.concurrency_slots,
            created_at=account.created_at,
        )


@dataclass(frozen=True)
class LimitsView:
    """What the server lets the caller do, and how much of it is in use now."""

    rate_per_key: list[str]  # e.g. ["100 per 1 second"]; empty: no limit
    rate_per_account: list[str]
    concurrency_slots: int
    max_queued: int
    queued: int
    daily_budget: int  # 0: no budget
    spent_today: int
    max_images: int
    max_resolution: int
    max_steps: int
    max_video_seconds: float


def own_limits(ctx: Context, principal: Principal) -> LimitsView:
    """The caller's limits as the server applies them (settings and the account's own slots)."""
    settings = ctx.settings
    limiter = ctx.rate_limiter
    with ctx.db.read() as session:
        account = accounts.get_account(session, principal.account_id)
        if account is None:
            raise NotFound("Account not found")
        since = guardrails.day_start(utcnow())
        spent = credits.spent_since(session, account_id=account.id, since=since)
        queued = queue.queued_count(session, account.id, up_to=settings.max_queued_per_account)
        slots = account.concurrency_slots
    return LimitsView(
        rate_per_key=[str(item) for item in limiter.per_key],
        rate_per_account=[str(item) for item in limiter.per_account],
        concurrency_slots=slots,
        max_queued=settings.max_queued_per_account,
        queued=queued,
        daily_budget=settings.daily_credit_budget,
        spent_today=spent,
        max_images=settings.max_images,
        max_resolution=settings.max_resolution,
        max_steps=settings.max_steps,
        max_video_seconds=settings.max_video_seconds,
    )


def grant_credits(ctx: Context, *, username: str, amount: int, note: str | None = None) -> int:
    """Add (or, negative, remove) credits; returns the new balance."""
    if amount == 0:
        raise InvalidRequest("amount must not be zero")
    with ctx.db.transaction() as session:
        account = accounts.account_by_username(session, username)
        if account is None:
            raise NotFound(f"No account named {username!r}")
        credits.grant(session, account_id=account.id, amount=amount, note=note or "operator grant")
        session.flush()
        session.refresh(account)
        return account.credit_balance


def balance_of(ctx: Context, *, username: str) -> int:
    with ctx.db.read() as session:
        account = accounts.account_by_username(session, username)
        if account is None:
            raise NotFound(f"No account named {username!r}")
        return account.credit_balance


def account_id_of(ctx: Context, *, username: str) -> str:
    with ctx.db.read() as session:
        account = accounts.account_by_username(session, username)
        if account is None:
            raise NotFound(f"No account named {username!r}")
        return account.id


@dataclass(frozen=True)
class LedgerLine:
    at: datetime
    kind: str  # grant | debit | refund
    amount: int
    balance_after: int
    subject_kind: str | None  # what it was for: generation, variation, realtime, prompt
    subject_id: str | None
    note: str | None


def own_credit_history(ctx: Context, principal: Principal, *, limit: int = 50) -> list[LedgerLine]:
    """The caller's own ledger (the same lines ``sfumato credits history`` prints)."""
    return credit_history(ctx, username=principal.username, limit=limit)


def credit_history(ctx: Context, *, username: str, limit: int = 50) -> list[LedgerLine]:
    """An account's newest ledger entries, each with the balance it left (the ledger sums to it)."""
    if not 1 <= limit <= 10_000:
        raise InvalidRequest("limit must be between 1 and 10000")
    with ctx.db.read() as session:
        account = accounts.account_by_username(session, username)
        if account is None:
            raise NotFound(f"No account named {username!r}")
        balance = account.credit_balance
        lines = []
        for entry in credits.history(session, account_id=account.id, limit=limit):
            lines.append(
                LedgerLine(
                    at=entry.created_at,
                    kind=entry.kind,
                    amount=entry.amount,
                    balance_after=balance,
                    subject_kind=entry.subject_kind,
                    subject_id=entry.subject_id,
                    note=entry.note,
                )
            )
            balance -= entry.amount
        return lines
