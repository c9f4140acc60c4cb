"""A job's standing (queue position or progress) as the views carry it."""

from __future__ import annotations

from typing import Any

from sfumato.service.views import ProgressView
from sfumato.store.progress import Standing


def standing_fields(standing: Standing | None) -> dict[str, Any]:
    """``queue_position`` and ``progress`` for a view; both None for a job that is done."""
    if standing is None:
        return {"queue_position": None, "progress": None}
    progress = standing.progress
    return {
        "queue_position": standing.queue_position,
        "progress": ProgressView(progress.stage, progress.step, progress.total) if progress else None,
    }
