"""``Idempotency-Key``: a retried creating request gets the first one's response, not a second job.

The first request with a key claims it (an in-progress record, unique per account and
key) before it runs and stores its response when it succeeds. A retry with the same key
and the same request (method, path, body) gets that response back; with a different
request, a 409. A request that failed (any non-2xx) frees its key, so the client may try
again. Records live ``SFUMATO_IDEMPOTENCY_TTL_SECONDS``.

The request's admission (``service/admission.py``) links the record to what it created in
that subject's own transaction. So a process that dies between committing a job and
storing its response leaves a record in progress that names its generation (or
variation): after ``STALE_AFTER`` a retry runs the request again and is answered with that
subject, uncharged — not a second job. A record that names nothing (the process died
before anything committed) is simply free again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

from sfumato.errors import Conflict, InvalidRequest
from sfumato.service.context import Context
from sfumato.store import idempotency as store
from sfumato.store.clock import utcnow

MAX_KEY_LENGTH = 255
STALE_AFTER = timedelta(minutes=2)
_claimed: ContextVar[int | None] = ContextVar("sfumato_idempotency_record", default=None)


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: str


@dataclass(frozen=True)
class Claim:
    record_id: int


def request_hash(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256(f"{method} {path}?{query}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def check_key(key: str) -> None:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters")


def begin(
    ctx: Context, *, account_id: str, key: str, method: str, path: str, fingerprint: str
) -> Claim | Replay:
    """Claim ``key`` for this request, or the stored response of the request that claimed it."""
    check_key(key)
    now = utcnow()
    with ctx.db.transaction() as session:
        store.purge_expired(session, account_id=account_id, now=now)
        existing = store.find(session, account_id=account_id, key=key)
        if existing is not None and existing.status_code is None and now - existing.created_at > STALE_AFTER:
            if existing.subject_id is not None and existing.request_hash == fingerprint:
                existing.created_at = now  # its retry now: answered with what the first attempt created
                return Claim(existing.id)
            store.remove(session, existing.id)
            existing = None
        if existing is None:
            record = store.insert(
                session,
                account_id=account_id,
                key=key,
                method=method,
                path=path,
                request_hash=fingerprint,
                created_at=now,
                expires_at=now + timedelta(seconds=ctx.settings.idempotency_ttl_seconds),
            )
            if record is not None:
                return Claim(record.id)
            existing = store.find(session, account_id=account_id, key=key)  # claimed a moment ago
            if existing is None:
                raise Conflict("A request with this Idempotency-Key is in progress; retry shortly")
        if existing.status_code is None or existing.response_body is None:
            raise Conflict("A request with this Idempotency-Key is in progress; retry shortly")
        if existing.request_hash != fingerprint:
            raise Conflict(
                "This Idempotency-Key was used with a different request; use a new key for a new request",
                code="idempotency-key-reused",
            )
        return Replay(existing.status_code, existing.response_body)


def claimed_record() -> int | None:
    """The ``Idempotency-Key`` record of the request being handled, if it has one."""
    return _claimed.get()


@contextmanager
def handling(claim: Claim) -> Iterator[None]:
    """Mark the code within (and the threads it starts) as handling the request of ``claim``."""
    token = _claimed.set(claim.record_id)
    try:
        yield
    finally:
        _claimed.reset(token)


def succeed(ctx: Context, claim: Claim, *, status_code: int, body: str) -> None:
    with ctx.db.transaction() as session:
        store.store_response(session, claim.record_id, status_code=status_code, body=body)


def release(ctx: Context, claim: Claim) -> None:
    with ctx.db.transaction() as session:
        store.remove(session, claim.record_id)
