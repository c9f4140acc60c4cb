"""The job queue: enqueue, claim with a lease, heartbeat, complete, fail, requeue.

Every operation is one short, named function over SQL. Claims lock candidate rows
with ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent workers never
take the same job; on SQLite the claim runs in an IMMEDIATE transaction, which
serialises writers and gives the same guarantee. Completion and failure are accepted
only from the current lease holder: a worker whose lease expired and was re-issued
cannot overwrite the new holder's result.

Scheduling happens at claim time, in one query (:func:`_schedule`):

* **lanes** — realtime (0) before interactive (1) before batch (2);
* **fairness** — each account's queued jobs are numbered oldest first (its *turn*);
  adding the jobs it already runs gives its *load*, and the lowest load goes first, so
  accounts take turns: one account's 500 queued jobs cannot starve another's single job;
* **model affinity** — among jobs of equal load, those for a model the worker already
  holds come first; below fairness, so preferring a warm model can never starve anyone;
* **concurrency cap** — a job whose load would exceed its account's
  ``concurrency_slots`` is not a candidate at all.

Dynamic batching claims a head job and then up to ``max_jobs - 1`` more with the same
batch key, in the same order, so a batch never jumps the fairness or the cap. A job
whose lease ran out comes back without its batch key (:func:`requeue`) and runs alone.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Select, bindparam, case, func, or_, select, text, update
from sqlalchemy.orm import Session, lazyload, object_session

from sfumato.errors import QuotaExceeded
from sfumato.store import commits
from sfumato.store.clock import utcnow
from sfumato.store.models import Account, Generation, Job

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = (
    "queued",
    "running",
    "succeeded",
    "failed",
    "cancelled",
)
REALTIME, INTERACTIVE, BATCH = 0, 1, 2


@dataclass(frozen=True)
class ClaimedJob:
    id: str
    kind: str
    account_id: str
    generation_id: str | None
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    lease_owner: str
    lane: int = INTERACTIVE
    lease: int = 1  # this claim's lease number: unique per job, so each attempt's outputs are its own
    model_key: str | None = None
    batch_key: str | None = None
    waited_seconds: float = 0.0  # from enqueue (or requeue's original enqueue) to this claim


@dataclass(frozen=True)
class Lease:
    """A new job to be admitted already claimed: by ``worker_id``, for ``seconds``."""

    worker_id: str
    seconds: float


def leased_row(job: dict[str, Any], lease: Lease) -> dict[str, Any]:
    """A new job's row as a claim by ``lease.worker_id`` would leave it: running, attempt 1, lease 1."""
    now = utcnow()
    return {**job, "state": RUNNING, "lease_owner": lease.worker_id, "attempts": 1, "leases": 1,
            "lease_expires_at": now + timedelta(seconds=lease.seconds), "started_at": now}  # fmt: skip


def claim_of(job: dict[str, Any], lease: Lease) -> ClaimedJob:
    """The claim a worker holds on a new job admitted under ``lease`` (see :func:`leased_row`)."""
    return ClaimedJob(id=job["id"], kind=job["kind"], account_id=job["account_id"],
                      generation_id=job.get("generation_id"), payload=dict(job["payload"]), attempts=1,
                      max_attempts=job["max_attempts"], lease_owner=lease.worker_id, lease=1,
                      lane=job.get("lane", INTERACTIVE), model_key=job.get("model_key"),
                      batch_key=job.get("batch_key"))  # fmt: skip


@dataclass(frozen=True)
class Capabilities:
    """What a worker can run and what it holds: the claim takes only jobs it can run.

    ``kinds`` are job kinds; ``models`` the model keys it may load (None: any);
    ``loaded`` the models already in memory, preferred by the claim (model affinity).
    """

    kinds: frozenset[str] | None = None
    models: frozenset[str] | None = None
    loaded: tuple[str, ...] = ()


ANYTHING = Capabilities()


def enqueue(
    session: Session,
    *,
    kind: str,
    account_id: str,
    payload: dict[str, Any],
    generation_id: str | None = None,
    lane: int = INTERACTIVE,
    max_attempts: int = 3,
    model_key: str | None = None,
    batch_key: str | None = None,
    subject_id: str | None = None,
    max_queued: int | None = None,
) -> Job:
    """Add a job inside the caller's transaction, so it exists iff the caller's rows do.

    With ``max_queued``, raise :class:`QuotaExceeded` when the account already has that
    many jobs waiting. The count is exact when the caller has already written the
    account's row in this transaction (the credit debit does), because that row lock
    makes concurrent submissions of one account take turns.
    """
    if max_queued is not None:
        waiting = queued_count(session, account_id, up_to=max_queued)
        if waiting >= max_queued:
            raise queue_full(waiting)
    job = Job(
        kind=kind,
        account_id=account_id,
        generation_id=generation_id,
        payload=payload,
        lane=lane,
        max_attempts=max_attempts,
        model_key=model_key,
        batch_key=batch_key,
        subject_id=subject_id,
        state=QUEUED,
    )
    session.add(job)
    notify(session)
    return job


def queue_full(waiting: int) -> QuotaExceeded:
    """The refusal of a job for an account that already has ``waiting`` jobs queued, its cap."""
    return QuotaExceeded(
        f"This account already has {waiting} jobs waiting, the most this server queues per "
        "account (SFUMATO_MAX_QUEUED_PER_ACCOUNT); retry when some have finished"
    )


def notify(bind: Session | Connection) -> None:
    """Wake workers, here and in other processes, once this transaction commits.

    Signalled at commit and only then (store/commits.py), so a woken worker finds the job.
    """
    commits.announce(bind, commits.JOBS)


# Plain SQL: this runs on every submission, and a text statement costs a fifth of the ORM's.
_QUEUED_COUNT = text(
    "SELECT count(*) FROM "
    "(SELECT 1 FROM jobs WHERE account_id = :account AND state = 'queued' LIMIT :cap) AS waiting"
)


def queued_count(session: Session | Connection, account_id: str, *, up_to: int = 2**31 - 1) -> int:
    """Jobs the account has waiting; counting stops at ``up_to``, so a deep queue costs no more."""
    return int(session.execute(_QUEUED_COUNT, {"account": account_id, "cap": up_to}).scalar() or 0)


@lru_cache(maxsize=64)
def _schedule(can_run: Capabilities) -> Select[Job]:
    """Runnable queued jobs within their account's cap, best first, locked as they are read.

    Built once per set of capabilities (a worker's change only when it loads or drops a
    model): statements are immutable, and building this one costs more than running it.
    """
    running = (
        select(Job.account_id, func.count().label("n"))
        .where(Job.state == RUNNING)
        .group_by(Job.account_id)
        .subquery("running")
    )
    turns = select(
        Job.id,
        func.row_number()
        .over(partition_by=Job.account_id, order_by=(Job.lane, Job.created_at, Job.id))
        .label("turn"),
    ).where(Job.state == QUEUED)
    turn = turns.subquery("turns")
    load = func.coalesce(running.c.n, 0) + turn.c.turn
    cold = case((Job.model_key.in_(can_run.loaded), 0), else_=1)
    query = (
        select(Job)
        .join(turn, turn.c.id == Job.id)
        .join(Account, Account.id == Job.account_id)
        .outerjoin(running, running.c.account_id == Job.account_id)
        .where(Job.state == QUEUED, load <= Account.concurrency_slots)
        .order_by(Job.lane, load, cold, Job.created_at, Job.id)
        .with_for_update(of=Job, skip_locked=True)
    )
    if can_run.kinds is not None:
        query = query.where(Job.kind.in_(can_run.kinds))
    if can_run.models is not None:
        query = query.where(or_(Job.model_key.is_(None), Job.model_key.in_(can_run.models)))
    return query


@lru_cache(maxsize=64)
def _head(can_run: Capabilities) -> Select[Job]:
    """The best runnable job alone; kept, like the schedule, so its cache key is computed once."""
    return _schedule(can_run).limit(1)


def claim_batch(
    session: Session,
    *,
    worker_id: str,
    lease_seconds: float,
    max_jobs: int = 1,
    can_run: Capabilities = ANYTHING,
) -> list[ClaimedJob]:
    """Take the best queued job and up to ``max_jobs - 1`` more that can share its pipeline call.

    Followers have the head's batch key and lane, so a realtime job is never slowed down
    by batch work riding along, and they come in the same schedule order as the head.
    """
    schedule = _schedule(can_run)
    head = session.scalars(_head(can_run)).first()
    if head is None:
        return []
    jobs = [head]
    if head.batch_key is not None and max_jobs > 1:
        followers = schedule.where(
            Job.batch_key == head.batch_key, Job.kind == head.kind, Job.lane == head.lane, Job.id != head.id
        )
        jobs += session.scalars(followers.limit(max_jobs - 1)).all()
    return _take(session, _within_caps(session, jobs), worker_id, lease_seconds)


def claim_more(
    session: Session,
    *,
    worker_id: str,
    lease_seconds: float,
    batch_key: str,
    lane: int,
    max_jobs: int,
    can_run: Capabilities = ANYTHING,
) -> list[ClaimedJob]:
    """Top up a batch being filled: more queued jobs with ``batch_key`` in ``lane``."""
    query = _schedule(can_run).where(Job.batch_key == batch_key, Job.lane == lane)
    jobs = list(session.scalars(query.limit(max_jobs)))
    return _take(session, _within_caps(session, jobs), worker_id, lease_seconds)


def _within_caps(session: Session, jobs: Sequence[Job]) -> list[Job]:
    """Drop jobs whose account would run more than its slots, counting what is running now.

    The schedule query already applies the cap, but on PostgreSQL two claimers may read
    the queue at the same instant. Taking a per-account advisory lock (in a fixed order,
    so claimers cannot deadlock) and counting again makes them take turns per account;
    submissions, which lock the account row instead, are not held up. On SQLite the
    IMMEDIATE transaction already serialises claims, so the schedule's count stands.
    """
    accounts = sorted({job.account_id for job in jobs})
    if session.get_bind().dialect.name != "postgresql" or not accounts:
        return list(jobs)
    free = free_slots(session.connection(), accounts)
    kept = []
    for job in jobs:
        if free.get(job.account_id, 0) > 0:
            free[job.account_id] -= 1
            kept.append(job)
    return kept


def free_slots(connection: Connection, accounts: Sequence[str]) -> dict[str, int]:
    """Each account's concurrency slots not taken by a running job. On PostgreSQL the accounts'
    claim locks are taken first (in id order, as every claimer does), so the count holds until
    the transaction ends."""
    accounts = sorted(set(accounts))
    if connection.dialect.name == "postgresql":
        for account_id in accounts:
            connection.execute(_CLAIM_LOCK, {"a": account_id})
    rows = connection.execute(_FREE_SLOTS, {"ids": accounts})
    return {str(account_id): int(slots) for account_id, slots in rows}


_CLAIM_LOCK = text("SELECT pg_advisory_xact_lock(hashtext(:a))")
_FREE_SLOTS = (
    select(Account.id, Account.concurrency_slots - func.count(Job.id))
    .outerjoin(Job, (Job.account_id == Account.id) & (Job.state == RUNNING))
    .where(Account.id.in_(bindparam("ids", expanding=True)))
    .group_by(Account.id, Account.concurrency_slots)
)


def _take(session: Session, jobs: Sequence[Job], worker_id: str, lease_seconds: float) -> list[ClaimedJob]:
    now = utcnow()
    claimed = []
    for job in jobs:
        job.state = RUNNING
        job.lease_owner = worker_id
        job.lease_expires_at = now + timedelta(seconds=lease_seconds)
        job.attempts += 1
        job.leases += 1
        job.started_at = now
        job.progress = None  # an earlier attempt's progress is not this one's
        claimed.append(
            ClaimedJob(
                id=job.id,
                kind=job.kind,
                account_id=job.account_id,
                generation_id=job.generation_id,
                payload=dict(job.payload),
                attempts=job.attempts,
                max_attempts=job.max_attempts,
                lease_owner=worker_id,
                lease=job.leases,
                lane=job.lane,
                model_key=job.model_key,
                batch_key=job.batch_key,
                waited_seconds=max(0.0, (now - job.created_at).total_seconds()),
            )
        )
    session.flush()
    return claimed


def renew(session: Session, *, job_ids: Collection[str], worker_id: str, lease_seconds: float) -> set[str]:
    """Extend the leases ``worker_id`` still holds among ``job_ids``; return those ids."""
    if not job_ids:
        return set()
    rows = session.execute(
        update(Job)
        .where(Job.id.in_(job_ids), Job.state == RUNNING, Job.lease_owner == worker_id)
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
        .returning(Job.id)
    )
    return {str(job_id) for job_id in rows.scalars()}


def lock_if_held(session: Session, *, job_id: str, worker_id: str, lease: int | None = None) -> Job | None:
    """The job row, locked, if ``worker_id`` still holds its lease (lease number ``lease``,
    when given: a worker that was handed the job again holds a new lease, not the old one)."""
    return session.scalars(_held(job_id, worker_id, lease).with_for_update()).first()


def lock_with_generation_if_held(
    session: Session, *, job_id: str, worker_id: str, lease: int | None = None
) -> tuple[Job, Generation | None] | None:
    """:func:`lock_if_held`, and the job's generation (its images left unloaded) read in the
    same query: recording a job's end then reads nothing more for it."""
    query = (
        _held(job_id, worker_id, lease)
        .add_columns(Generation)
        .outerjoin(Generation, Generation.id == Job.generation_id)
        .options(lazyload(Generation.images))
        .with_for_update(of=Job)
    )
    row = session.execute(query).first()
    return (row[0], row[1]) if row is not None else None


def _held(job_id: str, worker_id: str, lease: int | None) -> Select[Job]:
    query = select(Job).where(Job.id == job_id, Job.state == RUNNING, Job.lease_owner == worker_id)
    return query.where(Job.leases == lease) if lease is not None else query


def finish(job: Job, *, state: str, error: str | None = None) -> None:
    job.state = state
    job.error = error
    job.lease_owner = None
    job.lease_expires_at = None
    job.finished_at = utcnow()


def expired(session: Session, *, limit: int = 100) -> list[Job]:
    """Running jobs whose lease ran out (their worker died or hung), locked for handling."""
    return list(
        session.scalars(
            select(Job)
            .where(Job.state == RUNNING, Job.lease_expires_at < utcnow())
            .order_by(Job.lease_expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def requeue(job: Job, *, alone: bool = False) -> None:
    """Queue the job again. ``alone`` (its lease ran out: its worker died or hung while
    running it) drops its batch key, so its next attempts run it by itself. A job that
    kills its worker (out of memory, a crash in native code) then spends only its own
    attempts, instead of taking the jobs it was batched with down with it each time.
    """
    job.state = QUEUED
    if alone:
        job.batch_key = None
    job.lease_owner = None
    job.lease_expires_at = None
    session = object_session(job)
    if session is not None:
        notify(session)


def hand_back(session: Session, *, job_ids: Collection[str], worker_id: str) -> int:
    """Return still-held jobs to the queue unrun (a worker shutting down): no attempt is spent."""
    if not job_ids:
        return 0
    result = session.execute(
        update(Job)
        .where(Job.id.in_(job_ids), Job.state == RUNNING, Job.lease_owner == worker_id)
        .values(state=QUEUED, lease_owner=None, lease_expires_at=None, attempts=Job.attempts - 1)
    )
    count = int(result.rowcount)  # type: ignore[attr-defined]
    if count:
        notify(session)
    return count


def jobs_for_generation(session: Session, generation_id: str) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.generation_id == generation_id).with_for_update()))
