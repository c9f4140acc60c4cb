"""Uploaded init images: rows that name a blob an account may use as a source or a mask."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sfumato.store.models import InitImage


def add(session: Session, *, image_id: str, account_id: str, blob_key: str, content_type: str) -> InitImage:
    image = InitImage(id=image_id, account_id=account_id, blob_key=blob_key, content_type=content_type)
    session.add(image)
    return image


def get(session: Session, image_id: str, *, account_id: str) -> InitImage | None:
    """The account's own init image; another account's is as absent as a missing one."""
    image = session.get(InitImage, image_id)
    if image is None or image.account_id != account_id:
        return None
    return image


def by_blob_key(session: Session, blob_key: str) -> InitImage | None:
    return session.scalars(select(InitImage).where(InitImage.blob_key == blob_key)).first()
