"""Datasets and their images: rows an account owns; another account's are as absent as missing ones."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sfumato.store.training_tables import Dataset, DatasetImage


def get(session: Session, dataset_id: str, *, account_id: str) -> Dataset | None:
    dataset = session.get(Dataset, dataset_id)
    if dataset is None or dataset.account_id != account_id:
        return None
    return dataset


def images(session: Session, dataset_id: str) -> list[DatasetImage]:
    """A dataset's images, oldest first (the order training reads them in)."""
    query = select(DatasetImage).where(DatasetImage.dataset_id == dataset_id)
    return list(session.scalars(query.order_by(DatasetImage.created_at, DatasetImage.id)))


def image_count(session: Session, dataset_id: str) -> int:
    query = select(func.count()).select_from(DatasetImage).where(DatasetImage.dataset_id == dataset_id)
    return int(session.scalar(query) or 0)


def image_by_blob_key(session: Session, blob_key: str) -> DatasetImage | None:
    return session.scalars(select(DatasetImage).where(DatasetImage.blob_key == blob_key)).first()
