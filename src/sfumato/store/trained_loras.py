"""Trained LoRAs (custom models and elements): an account's own; another's are as absent as missing ones."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sfumato.store.training_tables import TrainedLora


def by_uuid(
    session: Session, uuid: str, *, account_id: str | None = None, purpose: str | None = None
) -> TrainedLora | None:
    row = session.scalars(select(TrainedLora).where(TrainedLora.uuid == uuid)).first()
    return _owned(row, account_id, purpose)


def by_id(session: Session, lora_id: int, *, account_id: str, purpose: str) -> TrainedLora | None:
    return _owned(session.get(TrainedLora, lora_id), account_id, purpose)


def of_account(session: Session, account_id: str, purpose: str) -> list[TrainedLora]:
    query = select(TrainedLora).where(TrainedLora.account_id == account_id, TrainedLora.purpose == purpose)
    return list(session.scalars(query.order_by(TrainedLora.created_at.desc(), TrainedLora.id.desc())))


def _owned(row: TrainedLora | None, account_id: str | None, purpose: str | None) -> TrainedLora | None:
    if row is None:
        return None
    if account_id is not None and row.account_id != account_id:
        return None
    if purpose is not None and row.purpose != purpose:
        return None
    return row
