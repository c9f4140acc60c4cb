"""Tables of 3D work: uploaded model assets (meshes) and the textures generated for them.

Kept beside ``store.models`` (same declarative base, same conventions) so the 3D schema
reads in one place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sfumato.store.clock import utcnow
from sfumato.store.models import Base, new_id


class ModelAsset(Base):
    """A mesh an account uploads through a presigned form (OBJ, GLB or glTF) to texture."""

    __tablename__ = "model_assets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    extension: Mapped[str] = mapped_column(String(8))  # obj | glb | gltf
    blob_key: Mapped[str] = mapped_column(String(300), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TextureGeneration(Base):
    """A texture generated for a model asset: its request, its state and, once COMPLETE, its
    maps (``images``: ``[{id, type, blob_key, sha256, width, height}]``, ALBEDO first)."""

    __tablename__ = "texture_generations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    model_asset_id: Mapped[str] = mapped_column(ForeignKey("model_assets.id", ondelete="CASCADE"), index=True)
    prompt: Mapped[str] = mapped_column(Text)
    negative_prompt: Mapped[str | None] = mapped_column(Text, default=None)
    seed: Mapped[int] = mapped_column(BigInteger)
    preview: Mapped[bool] = mapped_column(default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="PENDING")
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)
    credit_cost: Mapped[int] = mapped_column(Integer, default=0)
    api_key_id: Mapped[str | None] = mapped_column(String(36), default=None)
    images: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    lineage: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
