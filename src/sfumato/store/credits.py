"""The credit ledger. Balances change only together with a ledger entry.

``Account.credit_balance`` is the running sum of the account's entries, updated in
the same transaction with a guarded ``UPDATE`` so concurrent debits cannot overdraw.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from sfumato.store.models import Account, CreditEntry

GRANT, DEBIT, REFUND = "grant", "debit", "refund"


class SubjectKind:
    """What a debit or refund is for, as the ledger's ``subject_kind`` names it."""

    GENERATION = "generation"
    VARIATION = "variation"
    REALTIME = "realtime"
    PROMPT = "prompt"


# The balance's two moves, built once over the table (the submit path runs them often).
_accounts: Table = Account.__table__  # type: ignore[assignment]
_TAKE = (
    update(_accounts)
    .where(_accounts.c.id == bindparam("account"), _accounts.c.credit_balance >= bindparam("amount"))
    .values(credit_balance=_accounts.c.credit_balance - bindparam("amount"))
)
_ADD = (
    update(_accounts)
    .where(_accounts.c.id == bindparam("account"))
    .values(credit_balance=_accounts.c.credit_balance + bindparam("amount"))
)


def take(session: Session | Connection, account_id: str, amount: int) -> bool:
    """Lower the balance by ``amount`` if it allows; False (and no change) otherwise.

    Only the balance: the caller writes the ledger entry in the same transaction.
    """
    return bool(session.execute(_TAKE, {"account": account_id, "amount": amount}).rowcount)  # type: ignore[attr-defined]


def add(session: Session | Connection, account_id: str, amount: int) -> None:
    """Raise the balance by ``amount`` (the caller writes the ledger entry)."""
    session.execute(_ADD, {"account": account_id, "amount": amount})


def grant(session: Session, *, account_id: str, amount: int, note: str | None = None) -> None:
    add(session, account_id, amount)
    session.add(CreditEntry(account_id=account_id, amount=amount, kind=GRANT, note=note))


def debit(session: Session, *, account_id: str, amount: int, subject_kind: str, subject_id: str) -> bool:
    """Take ``amount`` credits for a subject if the balance allows; False (and no change) otherwise."""
    if not take(session, account_id, amount):
        return False
    session.add(debit_entry(account_id, amount, subject_kind, subject_id))
    return True


def debit_entry(account_id: str, amount: int, subject_kind: str, subject_id: str) -> CreditEntry:
    return CreditEntry(
        account_id=account_id, amount=-amount, kind=DEBIT, subject_kind=subject_kind, subject_id=subject_id
    )


def refund(session: Session, *, account_id: str, subject_id: str, note: str | None = None) -> int:
    """Return what a subject (a generation, a variation …) was charged, once; the amount refunded."""
    entries = session.scalars(select(CreditEntry).where(CreditEntry.subject_id == subject_id)).all()
    if any(e.kind == REFUND for e in entries):
        return 0
    charged = -sum(e.amount for e in entries if e.kind == DEBIT)
    if charged <= 0:
        return 0
    add(session, account_id, charged)
    session.add(
        CreditEntry(
            account_id=account_id,
            amount=charged,
            kind=REFUND,
            subject_kind=next((e.subject_kind for e in entries if e.kind == DEBIT), None),
            subject_id=subject_id,
            note=note,
        )
    )
    return charged


def refund_share(
    session: Session, *, account_id: str, subject_id: str, parts: int, of: int, note: str
) -> int:
    """Return ``parts`` of ``of`` equal shares of what a subject was charged (rounded down),
    once: the rule for outputs the content policy withheld (a generation of 4 images, one
    withheld, gets a quarter back). The amount refunded."""
    entries = session.scalars(select(CreditEntry).where(CreditEntry.subject_id == subject_id)).all()
    if of <= 0 or parts <= 0 or any(e.kind == REFUND for e in entries):
        return 0
    charged = -sum(e.amount for e in entries if e.kind == DEBIT)
    amount = charged * min(parts, of) // of
    if amount <= 0:
        return 0
    add(session, account_id, amount)
    session.add(
        CreditEntry(
            account_id=account_id,
            amount=amount,
            kind=REFUND,
            subject_kind=next((e.subject_kind for e in entries if e.kind == DEBIT), None),
            subject_id=subject_id,
            note=note,
        )
    )
    return amount


def ledger_sum(session: Session, account_id: str) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(CreditEntry.amount), 0)).where(CreditEntry.account_id == account_id)
        )
        or 0
    )


def entries_for(session: Session, *, subject_id: str) -> list[CreditEntry]:
    return list(
        session.scalars(
            select(CreditEntry).where(CreditEntry.subject_id == subject_id).order_by(CreditEntry.id)
        )
    )


def spent_since(session: Session | Connection, *, account_id: str, since: datetime) -> int:
    """Credits an account spent since ``since``: its debits less what was refunded."""
    total = session.scalar(
        select(func.coalesce(func.sum(CreditEntry.amount), 0)).where(
            CreditEntry.account_id == account_id,
            CreditEntry.kind.in_((DEBIT, REFUND)),
            CreditEntry.created_at >= since,
        )
    )
    return -int(total or 0)


def history(session: Session, *, account_id: str, limit: int = 50) -> list[CreditEntry]:
    """An account's newest ledger entries first."""
    return list(
        session.scalars(
            select(CreditEntry)
            .where(CreditEntry.account_id == account_id)
            .order_by(CreditEntry.id.desc())
            .limit(limit)
        )
    )
