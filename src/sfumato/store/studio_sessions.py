"""Studio sessions: an API key exchanged for a browser cookie, looked up by the token's digest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sfumato.store.clock import utcnow
from sfumato.store.models import ApiKey, StudioSession


def create(session: Session, *, token_hash: str, api_key_id: str, expires_at: datetime) -> StudioSession:
    """A new session; expired ones are cleared out in passing, so the table stays small."""
    session.execute(delete(StudioSession).where(StudioSession.expires_at <= utcnow()))
    row = StudioSession(token_hash=token_hash, api_key_id=api_key_id, expires_at=expires_at)
    session.add(row)
    session.flush()
    return row


def active(session: Session, token_hash: str) -> StudioSession | None:
    """The session if it has not expired and its key is not revoked."""
    return session.scalars(
        select(StudioSession)
        .join(ApiKey, ApiKey.id == StudioSession.api_key_id)
        .where(
            StudioSession.token_hash == token_hash,
            StudioSession.expires_at > utcnow(),
            ApiKey.revoked_at.is_(None),
        )
    ).first()


def end(session: Session, token_hash: str) -> bool:
    """Delete the session; whether it existed."""
    result = session.execute(delete(StudioSession).where(StudioSession.token_hash == token_hash))
    return bool(getattr(result, "rowcount", 0))
