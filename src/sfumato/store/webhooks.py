"""The webhook outbox: add an event, claim due deliveries, record attempts, list, resend.

Claims work like the job queue's: due rows are locked with ``FOR UPDATE SKIP LOCKED``
on PostgreSQL (an IMMEDIATE transaction on SQLite) and pushed ``lease`` seconds into
the future, so two senders — one in ``serve``, one in ``worker`` — never send the same
event at the same time, and an event whose sender died is picked up again later.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sfumato.store.clock import utcnow
from sfumato.store.models import ApiKey, WebhookAttempt, WebhookDelivery

PENDING, DELIVERED, FAILED, DISABLED = "pending", "delivered", "failed", "disabled"
STATES = (PENDING, DELIVERED, FAILED, DISABLED)


@dataclass(frozen=True)
class ClaimedDelivery:
    id: str
    url: str
    body: str | None
    attempt: int
    api_key_id: str
    webhook_key: str | None
    webhook_secret: str | None
    job_kind: str
    subject_id: str | None
    event_type: str


def new_event_id() -> str:
    return "msg_" + uuid.uuid4().hex


def add(
    session: Session,
    *,
    key: ApiKey,
    event_type: str,
    job_id: str | None,
    job_kind: str,
    subject_id: str | None,
) -> WebhookDelivery:
    """An event for ``key``'s receiver, inside the caller's transaction."""
    assert key.webhook_url is not None
    delivery = WebhookDelivery(
        id=new_event_id(),
        account_id=key.account_id,
        api_key_id=key.id,
        url=key.webhook_url,
        event_type=event_type,
        job_id=job_id,
        job_kind=job_kind,
        subject_id=subject_id,
        state=PENDING,
        attempts=0,
        next_attempt_at=utcnow(),
    )
    session.add(delivery)
    return delivery


def claim_due(session: Session, *, lease_seconds: float, limit: int = 10) -> list[WebhookDelivery]:
    """Due pending deliveries, locked and leased to the caller; ``attempts`` counts this attempt."""
    now = utcnow()
    rows = list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.state == PENDING, WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + timedelta(seconds=lease_seconds)
    session.flush()
    return rows


def lock(session: Session, delivery_id: str) -> WebhookDelivery | None:
    return session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
    ).first()


def record_attempt(
    session: Session,
    delivery: WebhookDelivery,
    *,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
) -> None:
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            number=delivery.attempts,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
        )
    )
    delivery.last_status = status_code
    delivery.last_error = error


def delivered(delivery: WebhookDelivery) -> None:
    delivery.state = DELIVERED
    delivery.delivered_at = utcnow()
    delivery.next_attempt_at = None


def retry_at(delivery: WebhookDelivery, when: datetime) -> None:
    delivery.state = PENDING
    delivery.next_attempt_at = when


def give_up(delivery: WebhookDelivery, state: str = FAILED) -> None:
    delivery.state = state
    delivery.next_attempt_at = None


def disable_key(session: Session, api_key_id: str) -> None:
    """The receiver is gone (410): no new events for this key, and its pending ones stop."""
    session.execute(update(ApiKey).where(ApiKey.id == api_key_id).values(webhook_disabled_at=utcnow()))
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.api_key_id == api_key_id, WebhookDelivery.state == PENDING)
        .values(state=DISABLED, next_attempt_at=None)
    )


def resend(delivery: WebhookDelivery) -> None:
    """Queue an event again, same id and body, for a fresh round of attempts."""
    delivery.state = PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()


def get(session: Session, delivery_id: str, *, account_id: str | None = None) -> WebhookDelivery | None:
    query = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
    if account_id is not None:
        query = query.where(WebhookDelivery.account_id == account_id)
    return session.scalars(query).first()


def list_deliveries(
    session: Session,
    *,
    account_id: str | None = None,
    state: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> list[WebhookDelivery]:
    query = select(WebhookDelivery)
    if account_id is not None:
        query = query.where(WebhookDelivery.account_id == account_id)
    if state is not None:
        query = query.where(WebhookDelivery.state == state)
    query = query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id).offset(offset).limit(limit)
    return list(session.scalars(query))


def attempts_of(session: Session, delivery_id: str) -> list[WebhookAttempt]:
    return list(
        session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.id)
        )
    )


def key_of(session: Session, api_key_id: str) -> ApiKey | None:
    return session.get(ApiKey, api_key_id)
