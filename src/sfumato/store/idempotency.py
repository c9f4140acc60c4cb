"""``Idempotency-Key`` records: claim a key, find what it answered, keep or drop its answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sfumato.store.models import IdempotencyRecord


def find(session: Session, *, account_id: str, key: str) -> IdempotencyRecord | None:
    return session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.account_id == account_id, IdempotencyRecord.key == key
        )
    ).first()


def insert(
    session: Session,
    *,
    account_id: str,
    key: str,
    method: str,
    path: str,
    request_hash: str,
    created_at: datetime,
    expires_at: datetime,
) -> IdempotencyRecord | None:
    """A new in-progress record, or None when another request holds the key (unique constraint)."""
    record = IdempotencyRecord(
        account_id=account_id,
        key=key,
        method=method,
        path=path,
        request_hash=request_hash,
        created_at=created_at,
        expires_at=expires_at,
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        return None
    return record


def purge_expired(session: Session, *, account_id: str, now: datetime) -> None:
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.account_id == account_id, IdempotencyRecord.expires_at < now
        )
    )


def remove(session: Session, record_id: int) -> None:
    session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))


def store_response(session: Session, record_id: int, *, status_code: int, body: str) -> None:
    record = session.get(IdempotencyRecord, record_id)
    if record is not None:
        record.status_code = status_code
        record.response_body = body
