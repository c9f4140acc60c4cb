"""Writing a group of submitted generations in one transaction (group commit).

The group is decided with a few statements, whatever its size:

1. **locking** (PostgreSQL) — the group's accounts' rows are locked, in id order, so the
   same accounts' submissions on other API nodes wait for this group to commit;
2. **de-duplication** — one query finds, for every seeded submission, a generation of
   the same request within its window that has not failed; such a submission (or a
   repeat of one earlier in the group) is answered with that generation, uncharged;
3. **charging** — per account, one guarded ``UPDATE`` takes the credits of all its
   submissions; if the balance does not cover them all, each is charged on its own, in
   arrival order, and those it cannot cover are refused;
4. **limits** — per account, the queue depth and the day's spending are read once and
   the charged submissions are admitted in order while they stay within the queue cap
   and the daily budget; what the refused ones were charged is given back at once.

The admitted submissions' rows — generations, ledger debits, jobs — are then inserted
with one multi-row statement per table, and the caller commits once for the group.
Nothing of a refused submission is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any, Literal

from sqlalchemy import Connection, Table, bindparam, insert, select
from sqlalchemy.orm import Session

from sfumato.store import credits, queue
from sfumato.store.models import Account, CreditEntry, Generation, Job


@dataclass(frozen=True)
class Submission:
    """One generation to record: its row, its job's row and the limits it must respect.

    ``generation`` and ``job`` are column values (the job's ``generation_id`` is filled
    in here); ``request_hash`` is None for a request that is never de-duplicated.
    """

    account_id: str
    cost: int
    generation: dict[str, Any]
    job: dict[str, Any]
    request_hash: str | None = None
    dedupe_since: datetime | None = None
    max_queued: int | None = None
    daily_budget: int = 0
    budget_day_start: datetime | None = None

    @property
    def generation_id(self) -> str:
        return str(self.generation["id"])


@dataclass(frozen=True)
class Accepted:
    generation_id: str
    cost: int  # what was charged: 0 for a duplicate
    duplicate: bool = False


@dataclass(frozen=True)
class Refused:
    """Why a submission was not recorded; ``detail`` is the number the refusal is about."""

    reason: Literal["credits", "queue", "budget"]
    detail: int = 0


Outcome = Accepted | Refused


def write_group(session: Session | Connection, submissions: Sequence[Submission]) -> list[Outcome]:
    """Admit or refuse each submission, in order, and insert the admitted ones' rows.

    Runs inside the caller's transaction (a session's or a Core connection's); the caller
    commits.
    """
    connection = session.connection() if isinstance(session, Session) else session
    outcomes: dict[int, Outcome] = {}
    _lock_accounts(connection, sorted({sub.account_id for sub in submissions}))
    originals = _recent_duplicates(connection, submissions)  # (account, hash) -> generation id
    repeats: dict[int, tuple[str, str]] = {}  # repeats of a request first seen in this group
    to_charge: dict[str, list[int]] = {}  # per account, the submissions to charge, in order
    for index, sub in enumerate(submissions):
        if sub.request_hash is not None and sub.dedupe_since is not None:
            request = (sub.account_id, sub.request_hash)
            if request in originals:
                repeats[index] = request
                continue
            originals[request] = sub.generation_id
        to_charge.setdefault(sub.account_id, []).append(index)
    for account_id, indexes in sorted(to_charge.items()):
        outcomes.update(_charge(connection, account_id, [(i, submissions[i]) for i in indexes]))
    first_outcome = {sub.generation_id: outcomes[i] for i, sub in enumerate(submissions) if i in outcomes}
    for index, request in repeats.items():
        original = first_outcome.get(originals[request])  # None: an earlier group's generation
        outcomes[index] = (
            original
            if isinstance(original, Refused)
            else Accepted(generation_id=originals[request], cost=0, duplicate=True)
        )
    admitted = [sub for i, sub in enumerate(submissions) if _admitted(outcomes[i])]
    if admitted:
        _insert_many(connection, Generation.__table__, [sub.generation for sub in admitted])
        _insert_many(connection, CreditEntry.__table__, [_debit_row(sub) for sub in admitted if sub.cost])
        _insert_many(
            connection, Job.__table__, [{**sub.job, "generation_id": sub.generation_id} for sub in admitted]
        )
        queue.notify(connection)
    return [outcomes[i] for i in range(len(submissions))]


def _admitted(outcome: Outcome) -> bool:
    return isinstance(outcome, Accepted) and not outcome.duplicate


def _charge(
    connection: Connection, account_id: str, subs: list[tuple[int, Submission]]
) -> dict[int, Outcome]:
    """Charge one account's submissions and admit them within its queue cap and daily budget."""
    outcomes: dict[int, Outcome] = {}
    if credits.take(connection, account_id, sum(sub.cost for _, sub in subs)):
        charged = subs
    else:  # the balance does not cover them all: charge each on its own, in order
        charged = []
        for index, sub in subs:
            if credits.take(connection, account_id, sub.cost):
                charged.append((index, sub))
            else:
                outcomes[index] = Refused("credits")
    waiting: int | None = None  # jobs queued so far, read when first needed
    spent: int | None = None  # credits spent today so far, read when first needed
    given_back = 0
    for index, sub in charged:
        if sub.max_queued is not None:
            if waiting is None:
                waiting = queue.queued_count(connection, account_id, up_to=sub.max_queued)
            if waiting >= sub.max_queued:
                outcomes[index], given_back = Refused("queue", waiting), given_back + sub.cost
                continue
        if sub.daily_budget > 0 and sub.budget_day_start is not None:
            if spent is None:
                spent = credits.spent_since(connection, account_id=account_id, since=sub.budget_day_start)
            if spent + sub.cost > sub.daily_budget:
                outcomes[index], given_back = Refused("budget", spent + sub.cost), given_back + sub.cost
                continue
            spent += sub.cost
        if waiting is not None:
            waiting += 1
        outcomes[index] = Accepted(generation_id=sub.generation_id, cost=sub.cost)
    if given_back:
        credits.add(connection, account_id, given_back)
    return outcomes


# Statements built once, over tables rather than mapped classes: this is the hot path of
# every submission, and a plain Core statement skips the ORM's per-call work.
_generations: Table = Generation.__table__  # type: ignore[assignment]
_accounts: Table = Account.__table__  # type: ignore[assignment]
_RECENT_DUPLICATES = (
    select(_generations.c.account_id, _generations.c.request_hash, _generations.c.id)
    .where(
        _generations.c.account_id.in_(bindparam("accounts", expanding=True)),
        _generations.c.request_hash.in_(bindparam("hashes", expanding=True)),
        _generations.c.created_at >= bindparam("since"),
        _generations.c.status != "FAILED",
    )
    .order_by(_generations.c.created_at)
)
_LOCK_ACCOUNTS = (
    select(_accounts.c.id)
    .where(_accounts.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_accounts.c.id)
    .with_for_update()
)


def _lock_accounts(connection: Connection, account_ids: list[str]) -> None:
    """On PostgreSQL, lock the group's accounts' rows, in one order every node uses.

    Until this transaction ends, another node's group with any of these accounts waits
    here, before its de-duplication query: so that query sees this group's generations,
    and an identical request sent to two nodes at once runs once. SQLite needs nothing:
    its write lock already admits one writer at a time.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(_LOCK_ACCOUNTS, {"ids": account_ids}).all()


def _recent_duplicates(
    connection: Connection, submissions: Sequence[Submission]
) -> dict[tuple[str, str], str]:
    """For each seeded submission whose request ran within its window (and did not fail),
    the newest such generation's id, keyed by (account, request hash)."""
    seeded = [sub for sub in submissions if sub.request_hash is not None and sub.dedupe_since is not None]
    if not seeded:
        return {}
    rows = connection.execute(
        _RECENT_DUPLICATES,
        {
            "accounts": sorted({sub.account_id for sub in seeded}),
            "hashes": sorted({str(sub.request_hash) for sub in seeded}),
            "since": min(sub.dedupe_since for sub in seeded if sub.dedupe_since is not None),
        },
    )
    return {(row.account_id, row.request_hash): row.id for row in rows}  # oldest first: the newest wins


def _debit_row(sub: Submission) -> dict[str, Any]:
    return {
        "account_id": sub.account_id,
        "amount": -sub.cost,
        "kind": credits.DEBIT,
        "generation_id": sub.generation_id,
        "note": None,
    }


def _insert_many(connection: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` with as few statements as their column sets allow (one, usually)."""
    target: Table = table
    for _, same_columns in groupby(sorted(rows, key=_columns), key=_columns):
        connection.execute(insert(target), list(same_columns))


def _columns(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(row))
