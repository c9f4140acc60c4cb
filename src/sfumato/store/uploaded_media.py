"""Uploaded media: rows naming an image or video blob an account uploaded for later jobs."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sfumato.store.models import UploadedMedia

AWAITING_UPLOAD = "awaiting_upload"
READY = "ready"


@dataclass(frozen=True)
class MediaFacts:
    """What checking a received file found; recorded on the row when it is accepted."""

    width: int
    height: int
    size_bytes: int
    sha256: str
    codec: str
    thumbnail_key: str
    duration_seconds: float | None = None
    fps: float | None = None
    frame_count: int | None = None


def add(
    session: Session, *, media_id: str, account_id: str, blob_key: str, content_type: str, media_type: str
) -> UploadedMedia:
    media = UploadedMedia(
        id=media_id,
        account_id=account_id,
        blob_key=blob_key,
        content_type=content_type,
        media_type=media_type,
        status=AWAITING_UPLOAD,
    )
    session.add(media)
    return media


def get(session: Session, media_id: str, *, account_id: str) -> UploadedMedia | None:
    """The account's own media; another account's is as absent as a missing one."""
    media = session.get(UploadedMedia, media_id)
    if media is None or media.account_id != account_id:
        return None
    return media


def by_blob_key(session: Session, blob_key: str) -> UploadedMedia | None:
    return session.scalars(select(UploadedMedia).where(UploadedMedia.blob_key == blob_key)).first()


def record_ready(session: Session, media_id: str, facts: MediaFacts) -> UploadedMedia | None:
    """Mark the media ready with ``facts``; None when it was deleted meanwhile."""
    media = session.get(UploadedMedia, media_id)
    if media is None:
        return None
    for name, value in asdict(facts).items():
        setattr(media, name, value)
    media.status, media.status_reason = READY, None
    return media


def record_refusal(session: Session, media_id: str, reason: str) -> None:
    """Note why the last file was refused; the media keeps waiting for an acceptable one."""
    media = session.get(UploadedMedia, media_id)
    if media is not None and media.status == AWAITING_UPLOAD:
        media.status_reason = reason
