"""The caller's own account, and operator actions on credits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sfumato.errors import InvalidRequest, NotFound
from sfumato.service.context import Context
from sfumato.service.keys import Principal
from sfumato.service.views import AccountView
from sfumato.store import accounts, credits


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
