"""Accounts' content policies, as the operator set them (``sfumato accounts policy …``)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from sfumato.store.models import AccountPolicy


def policy_of(session: Session, account_id: str) -> AccountPolicy | None:
    return session.get(AccountPolicy, account_id)


def policies_of(session: Session, account_ids: Collection[str]) -> dict[str, AccountPolicy]:
    """The policies of ``account_ids`` that have one, in one query (a worker's batch)."""
    if not account_ids:
        return {}
    rows = session.scalars(select(AccountPolicy).where(AccountPolicy.account_id.in_(list(account_ids))))
    return {row.account_id: row for row in rows}


def policy_for_update(session: Session, account_id: str) -> AccountPolicy:
    """The account's policy row, created empty when it has none yet."""
    row = session.get(AccountPolicy, account_id, with_for_update=True)
    if row is None:
        row = AccountPolicy(account_id=account_id, mode=None, rules={}, allowed=[])
        session.add(row)
        session.flush()
    return row


# What happens to an output the safety classifier flags, per account.
FLAG = "flag"  # kept and served, marked nsfw
BLUR = "blur"  # a blurred picture of the same size is stored instead (the original only if kept)
WITHHOLD = "withhold"  # not stored nor served; its share of the price is refunded
MODES = (FLAG, BLUR, WITHHOLD)
WITHHELD = "withheld by the content policy"  # how a subject's reason says it


def mode_of(policy: AccountPolicy | None) -> str:
    return policy.mode if policy is not None and policy.mode in MODES else FLAG
