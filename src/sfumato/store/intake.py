"""Admission: writing a group of charged submissions in one transaction (group commit).

Every request that charges credits is admitted here — a generation, a variation, a
realtime request, a prompt tool — with its subject's row, its ledger debit, its job (if
it has one) and its ``Idempotency-Key`` record's link to what it created, all in the one
transaction; the rules below hold for all of them alike.

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

The admitted submissions' rows — subjects, ledger debits, jobs — are then inserted with
one multi-row statement per table, and the caller commits once for the group. Nothing of
a refused submission is written.

A submission made under an ``Idempotency-Key`` whose record already names a subject (its
first attempt committed, then the process died before storing the response) is answered
with that subject, uncharged, like a duplicate.

A blueprint execution is one submission whose subject is its first step's generation:
its execution and step rows go with it (``rows``), the balance and the day's budget must
cover its whole quote (``covers``) though only the first step is taken now, and its
``Idempotency-Key`` names the execution (``answer``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any, Literal

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from sfumato.store import credits, queue
from sfumato.store.models import Account, CreditEntry, Generation, IdempotencyRecord, Job


@dataclass(frozen=True)
class Submission:
    """One charged request to record: its subject's row, its job's row and the limits it must respect.

    ``subject`` holds the column values of a row of ``subject_table`` (a generation, a
    variation …; None for a charge with nothing to keep, such as a prompt tool's), ``job``
    those of its job (None when it runs no job; a generation's ``generation_id`` is filled
    in here). ``request_hash`` is None for a request that is never de-duplicated (only
    generations are). ``idempotency_record`` is the request's ``Idempotency-Key`` record, to
    be linked to what it creates: the subject, or ``answer`` (kind, id) when the request
    answers with another row it writes. ``rows`` are further rows written with the subject,
    before it and in their order (a row before those that name it). ``covers``: what the
    balance and the day's budget must cover when more than ``cost``, which alone is taken.
    """

    account_id: str
    cost: int
    subject_kind: str
    subject_id: str
    subject_table: Table | None = None
    subject: dict[str, Any] | None = None
    job: dict[str, Any] | None = None
    request_hash: str | None = None
    dedupe_since: datetime | None = None
    idempotency_record: int | None = None
    max_queued: int | None = None
    daily_budget: int = 0
    budget_day_start: datetime | None = None
    lease: queue.Lease | None = None  # write the job already claimed under it, if the account has a slot
    lease_only: bool = False  # with a lease: when the account has no slot, refuse ("unleased"), not queue
    rows: tuple[tuple[Table, dict[str, Any]], ...] = ()
    answer: tuple[str, str] | None = None
    covers: int = 0

    @property
    def required(self) -> int:
        """The credits the balance (and the day's budget) must hold for it to be admitted."""
        return max(self.cost, self.covers)


@dataclass(frozen=True)
class Accepted:
    subject_id: str
    cost: int  # what was charged: 0 for a duplicate
    duplicate: bool = False
    leased: bool = False  # its job was written claimed under the submission's lease


@dataclass(frozen=True)
class Refused:
    """Why a submission was not recorded; ``detail`` is the number the refusal is about."""

    reason: Literal["credits", "queue", "budget", "unleased"]
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
    created_before = _created_under_key(connection, submissions)  # idempotency record -> subject id
    repeats: dict[int, tuple[str, str]] = {}  # repeats of a request first seen in this group
    to_charge: dict[str, list[int]] = {}  # per account, the submissions to charge, in order
    for index, sub in enumerate(submissions):
        if sub.idempotency_record in created_before:
            outcomes[index] = Accepted(created_before[sub.idempotency_record], cost=0, duplicate=True)
            continue
        if sub.request_hash is not None and sub.dedupe_since is not None:
            request = (sub.account_id, sub.request_hash)
            if request in originals:
                repeats[index] = request
                continue
            originals[request] = sub.subject_id
        to_charge.setdefault(sub.account_id, []).append(index)
    free = _free_slots(connection, [submissions[i] for indexes in to_charge.values() for i in indexes])
    for account_id, indexes in sorted(to_charge.items()):
        outcomes.update(_charge(connection, account_id, [(i, submissions[i]) for i in indexes], free))
    first_outcome = {sub.subject_id: outcomes[i] for i, sub in enumerate(submissions) if i in outcomes}
    for index, request in repeats.items():
        original = first_outcome.get(originals[request])  # None: an earlier group's generation
        outcomes[index] = (
            original
            if isinstance(original, Refused)
            else Accepted(subject_id=originals[request], cost=0, duplicate=True)
        )
    admitted = [sub for i, sub in enumerate(submissions) if _admitted(outcomes[i])]
    if admitted:
        leased = {out.subject_id for out in outcomes.values() if isinstance(out, Accepted) and out.leased}
        _insert_subjects(connection, admitted)
        _insert_many(connection, CreditEntry.__table__, [_debit_row(sub) for sub in admitted if sub.cost])
        jobs = [_job_row(sub, sub.subject_id in leased) for sub in admitted if sub.job is not None]
        _insert_many(connection, Job.__table__, jobs)
        if len(jobs) > len(leased):  # some wait in the queue: wake the workers
            queue.notify(connection)
    _link_idempotency_records(connection, submissions, outcomes, set(created_before))
    return [outcomes[i] for i in range(len(submissions))]


def _insert_subjects(connection: Connection, admitted: list[Submission]) -> None:
    """The subjects' rows (and those written with them), a statement per table, before the
    debits and jobs that name them."""
    tables: dict[str, tuple[Table, list[dict[str, Any]]]] = {}
    for sub in admitted:
        subject = (
            [(sub.subject_table, sub.subject)]
            if sub.subject_table is not None and sub.subject is not None
            else []
        )
        for table, row in [*sub.rows, *subject]:
            tables.setdefault(table.name, (table, []))[1].append(row)
    for table, rows in tables.values():
        _insert_many(connection, table, rows)


def _free_slots(connection: Connection, charging: list[Submission]) -> dict[str, int]:
    """Per account with a submission to be written claimed under its lease, its concurrency
    slots not taken by a running job (none read when no submission asks for a lease)."""
    leasing = [sub.account_id for sub in charging if sub.lease is not None and sub.job is not None]
    return queue.free_slots(connection, leasing) if leasing else {}


def _job_row(sub: Submission, leased: bool) -> dict[str, Any]:
    assert sub.job is not None
    job = queue.leased_row(sub.job, sub.lease) if leased and sub.lease is not None else sub.job
    if sub.subject_kind == credits.SubjectKind.GENERATION:
        # A generation's job is found by ``generation_id``; ``subject_id`` (an index of its own,
        # on random ids) is left to the other subjects, so a submission updates one index fewer.
        return {**job, "generation_id": sub.subject_id}
    return {**job, "subject_id": sub.subject_id}


def _created_under_key(connection: Connection, submissions: Sequence[Submission]) -> dict[int, str]:
    """For submissions whose ``Idempotency-Key`` record already names what it created (the
    first attempt committed and its process died before answering), that subject's id."""
    records = [sub.idempotency_record for sub in submissions if sub.idempotency_record is not None]
    if not records:
        return {}
    rows = connection.execute(
        select(_idempotency.c.id, _idempotency.c.subject_id).where(
            _idempotency.c.id.in_(records), _idempotency.c.subject_id.is_not(None)
        )
    )
    return {row.id: row.subject_id for row in rows}


def _link_idempotency_records(
    connection: Connection,
    submissions: Sequence[Submission],
    outcomes: dict[int, Outcome],
    linked: set[int],
) -> None:
    """Record, in the subject's own transaction, what each keyed request created (or was answered
    with); records ``linked`` already name what their first attempt created."""
    for index, sub in enumerate(submissions):
        outcome = outcomes[index]
        if sub.idempotency_record is None or sub.idempotency_record in linked:
            continue
        if isinstance(outcome, Accepted):
            kind, subject_id = (
                sub.answer
                if sub.answer is not None and not outcome.duplicate
                else (sub.subject_kind, outcome.subject_id)
            )
            connection.execute(
                update(_idempotency)
                .where(_idempotency.c.id == sub.idempotency_record)
                .values(subject_kind=kind, subject_id=subject_id)
            )


def _admitted(outcome: Outcome) -> bool:
    return isinstance(outcome, Accepted) and not outcome.duplicate


def _charge(
    connection: Connection, account_id: str, subs: list[tuple[int, Submission]], free: dict[str, int]
) -> dict[int, Outcome]:
    """Charge one account's submissions and admit them within its queue cap and daily budget.

    A submission with a lease whose account has a concurrency slot free (``free``, taken
    here in order) is admitted claimed: its job never waits in the queue, so the queue cap
    does not apply to it (nor is the queue counted for it). What a submission must cover
    beyond its cost is taken with it, to guard the balance, and given back."""
    outcomes: dict[int, Outcome] = {}
    if credits.take(connection, account_id, sum(sub.required for _, sub in subs)):
        charged = subs
        given_back = sum(sub.required - sub.cost for _, sub in subs)
    else:  # the balance does not cover them all: charge each on its own, in order
        charged, given_back = [], 0
        for index, sub in subs:
            if credits.take(connection, account_id, sub.required):
                charged.append((index, sub))
                if sub.required > sub.cost:  # at once: what follows may need it
                    credits.add(connection, account_id, sub.required - sub.cost)
            else:
                outcomes[index] = Refused("credits")
    waiting: int | None = None  # jobs queued so far, read when first needed
    spent: int | None = None  # credits spent today so far, read when first needed
    for index, sub in charged:
        leased = sub.lease is not None and sub.job is not None and free.get(account_id, 0) > 0
        if sub.lease_only and not leased:
            outcomes[index], given_back = Refused("unleased"), given_back + sub.cost
            continue
        if sub.max_queued is not None and sub.job is not None and not leased:
            if waiting is None:
                waiting = queue.queued_count(connection, account_id, up_to=sub.max_queued)
            if waiting >= sub.max_queued:
                outcomes[index], given_back = Refused("queue", waiting), given_back + sub.cost
                continue
        if sub.daily_budget > 0 and sub.budget_day_start is not None:
            if spent is None:
                spent = credits.spent_since(connection, account_id=account_id, since=sub.budget_day_start)
            if spent + sub.required > sub.daily_budget:
                outcomes[index], given_back = Refused("budget", spent + sub.required), given_back + sub.cost
                continue
            spent += sub.cost
        if leased:
            free[account_id] -= 1
        elif waiting is not None and sub.job is not None:
            waiting += 1
        outcomes[index] = Accepted(subject_id=sub.subject_id, cost=sub.cost, leased=leased)
    if given_back:
        credits.add(connection, account_id, given_back)
    return outcomes


# Statements built once, over tables rather than mapped classes: this is the hot path of
# every submission, and a plain Core statement skips the ORM's per-call work.
_generations: Table = Generation.__table__  # type: ignore[assignment]
_accounts: Table = Account.__table__  # type: ignore[assignment]
_idempotency: Table = IdempotencyRecord.__table__  # type: ignore[assignment]
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
        "subject_kind": sub.subject_kind,
        "subject_id": sub.subject_id,
        "note": None,
    }


def _insert_many(connection: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` with as few statements as their column sets allow (one, usually)."""
    target: Table = table
    for _, same_columns in groupby(sorted(rows, key=_columns), key=_columns):
        connection.execute(insert(target), list(same_columns))


def _columns(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(row))
