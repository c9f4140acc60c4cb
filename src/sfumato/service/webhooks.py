"""Webhook deliveries as their owners and operators see them: list, inspect, re-send.

An account sees only its own deliveries; the operator CLI passes no account and sees all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sfumato.errors import InvalidRequest, NotFound
from sfumato.service.context import Context
from sfumato.store import commits
from sfumato.store import webhooks as store
from sfumato.store.models import WebhookAttempt, WebhookDelivery


@dataclass(frozen=True)
class AttemptView:
    number: int
    status_code: int | None
    error: str | None
    duration_ms: int
    attempted_at: datetime


@dataclass(frozen=True)
class DeliveryView:
    id: str
    event_type: str
    state: str
    url: str
    subject_id: str | None
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    attempt_log: list[AttemptView] = field(default_factory=list)


def _view(delivery: WebhookDelivery, attempts: list[WebhookAttempt] | None = None) -> DeliveryView:
    return DeliveryView(
        id=delivery.id,
        event_type=delivery.event_type,
        state=delivery.state,
        url=delivery.url,
        subject_id=delivery.subject_id,
        attempts=delivery.attempts,
        last_status=delivery.last_status,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        next_attempt_at=delivery.next_attempt_at,
        delivered_at=delivery.delivered_at,
        attempt_log=[
            AttemptView(
                number=a.number,
                status_code=a.status_code,
                error=a.error,
                duration_ms=a.duration_ms,
                attempted_at=a.attempted_at,
            )
            for a in attempts or []
        ],
    )


def list_deliveries(
    ctx: Context, *, account_id: str | None, state: str | None = None, offset: int = 0, limit: int = 50
) -> list[DeliveryView]:
    if state is not None and state not in store.STATES:
        raise InvalidRequest(f"state must be one of {', '.join(store.STATES)}")
    if offset < 0 or not 1 <= limit <= 500:
        raise InvalidRequest("offset must be >= 0 and limit between 1 and 500")
    with ctx.db.read() as session:
        rows = store.list_deliveries(session, account_id=account_id, state=state, offset=offset, limit=limit)
        return [_view(row) for row in rows]


def get_delivery(ctx: Context, delivery_id: str, *, account_id: str | None) -> DeliveryView:
    with ctx.db.read() as session:
        delivery = store.get(session, delivery_id, account_id=account_id)
        if delivery is None:
            raise NotFound(f"No webhook delivery with id {delivery_id!r}")
        return _view(delivery, store.attempts_of(session, delivery.id))


def resend(ctx: Context, delivery_id: str, *, account_id: str | None) -> DeliveryView:
    """Send an event again (same id, same body) with a fresh round of attempts.

    Re-sending also re-enables the key's webhook if its receiver had answered 410:
    asking for a re-send says the receiver is back.
    """
    with ctx.db.transaction() as session:
        delivery = store.get(session, delivery_id, account_id=account_id)
        if delivery is None:
            raise NotFound(f"No webhook delivery with id {delivery_id!r}")
        if delivery.state == store.PENDING and delivery.attempts == 0:
            raise InvalidRequest("This event has not been attempted yet; it is on its way")
        store.resend(delivery)
        key = store.key_of(session, delivery.api_key_id)
        if key is not None:
            key.webhook_disabled_at = None
        commits.announce(session, commits.WEBHOOKS)
        view = _view(delivery)
    return view
