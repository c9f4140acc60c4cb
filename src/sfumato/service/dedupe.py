"""Request de-duplication: the same seeded request twice within a window is one generation.

The fingerprint is a hash of the account and every parameter of the request, seed
included, so only a request that would produce the very same pixels matches. Unseeded
requests never match (each asks for new randomness), and a FAILED generation does not
count, so retrying a failure runs again. A match is returned as is and not charged.
Two identical requests that arrive at the same instant may both run: the check is a
read, not a lock (``Idempotency-Key`` is the exact tool for retries).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import timedelta
from typing import Any

from sfumato.service.context import Context
from sfumato.store import generations as repo
from sfumato.store.clock import utcnow


def fingerprint(account_id: str, request: Any) -> str | None:
    """The request's hash, or None for a request without a seed."""
    if getattr(request, "seed", None) is None:
        return None
    fields = dataclasses.asdict(request)
    text = json.dumps({"account": account_id, "request": fields}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def recent_duplicate(ctx: Context, account_id: str, request_hash: str | None) -> str | None:
    """The id of a matching generation within the window, if there is one."""
    window = ctx.settings.dedupe_window_seconds
    if request_hash is None or window <= 0:
        return None
    with ctx.db.read() as session:
        found = repo.recent_by_request_hash(
            session,
            account_id=account_id,
            request_hash=request_hash,
            since=utcnow() - timedelta(seconds=window),
        )
        return found.id if found is not None else None
