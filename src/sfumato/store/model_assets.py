"""Model assets and their texture generations: an account's own; another's are as absent as missing ones."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sfumato.store.model_asset_tables import ModelAsset, TextureGeneration

PENDING, COMPLETE, FAILED = "PENDING", "COMPLETE", "FAILED"


def get(session: Session, asset_id: str, *, account_id: str) -> ModelAsset | None:
    asset = session.get(ModelAsset, asset_id)
    if asset is None or asset.account_id != account_id:
        return None
    return asset


def by_blob_key(session: Session, blob_key: str) -> ModelAsset | None:
    return session.scalars(select(ModelAsset).where(ModelAsset.blob_key == blob_key)).first()


def of_account(session: Session, account_id: str, *, limit: int, offset: int) -> list[ModelAsset]:
    query = select(ModelAsset).where(ModelAsset.account_id == account_id)
    ordered = query.order_by(ModelAsset.created_at.desc(), ModelAsset.id)
    return list(session.scalars(ordered.limit(limit).offset(offset)))


def texture(session: Session, texture_id: str, *, account_id: str | None = None) -> TextureGeneration | None:
    row = session.get(TextureGeneration, texture_id)
    if row is None or (account_id is not None and row.account_id != account_id):
        return None
    return row


def textures_of(
    session: Session, asset_id: str, *, limit: int | None = None, offset: int = 0
) -> list[TextureGeneration]:
    """A model asset's texture generations, newest first (all of them without ``limit``)."""
    query = select(TextureGeneration).where(TextureGeneration.model_asset_id == asset_id)
    ordered = query.order_by(TextureGeneration.created_at.desc(), TextureGeneration.id)
    return list(session.scalars(ordered.limit(limit).offset(offset)))


def texture_blob_keys(row: TextureGeneration) -> list[str]:
    return [str(image["blob_key"]) for image in row.images]


def texture_key(texture_id: str, lease: int, map_type: str) -> str:
    """Where the attempt under lease number ``lease`` puts one map of a texture generation."""
    return f"textures/{texture_id}/lease-{lease}/{map_type.lower()}.png"
