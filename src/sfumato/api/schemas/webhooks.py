"""Webhook delivery shapes (sfumato's own resource; Leonardo has no delivery API)."""

from __future__ import annotations

from typing import Any

from sfumato.api.schemas.common import compact, timestamp
from sfumato.service.webhooks import DeliveryView


def delivery_object(view: DeliveryView) -> dict[str, Any]:
    """One delivery, as ``GET /webhooks/deliveries`` and ``sfumato webhooks list --json`` give it."""
    body = compact(
        {
            "id": view.id,
            "eventType": view.event_type,
            "state": view.state,
            "url": view.url,
            "generationId": view.subject_id,
            "attempts": view.attempts,
            "lastStatus": view.last_status,
            "lastError": view.last_error,
            "createdAt": timestamp(view.created_at),
            "nextAttemptAt": timestamp(view.next_attempt_at) if view.next_attempt_at else None,
            "deliveredAt": timestamp(view.delivered_at) if view.delivered_at else None,
        }
    )
    if view.attempt_log:
        body["attemptLog"] = [
            compact(
                {
                    "number": a.number,
                    "statusCode": a.status_code,
                    "error": a.error,
                    "durationMs": a.duration_ms,
                    "attemptedAt": timestamp(a.attempted_at),
                }
            )
            for a in view.attempt_log
        ]
    return body
