"""Tables of training: datasets, their images, and the LoRAs trained on them.

Kept beside ``store.models`` (same declarative base, same conventions) so the training
schema reads in one place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sfumato.store.clock import utcnow
from sfumato.store.models import Base, new_id

MODEL, ELEMENT = "model", "element"  # what a trained LoRA is on the wire: a custom model or an element


class Dataset(Base):
    """A named set of an account's pictures to train on."""

    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DatasetImage(Base):
    """One picture of a dataset: uploaded through a presigned form, or copied from a generation."""

    __tablename__ = "dataset_images"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(String(36))
    blob_key: Mapped[str] = mapped_column(String(300), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    generated_image_id: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrainedLora(Base):
    """A LoRA trained on a dataset: a custom model (``uuid`` on the wire) or an element (``id``).

    ``settings`` holds what the training ran with; ``lineage`` the dataset version (its
    images' content hashes), the base weights' hash and the LoRA's own hash; ``evaluation``
    the prompt suite's images rendered when training ended.
    """

    __tablename__ = "trained_loras"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # MODEL or ELEMENT
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    dataset_id: Mapped[str | None] = mapped_column(String(36), default=None)
    base_model_key: Mapped[str] = mapped_column(String(200))
    sd_version: Mapped[str | None] = mapped_column(String(40), default=None)
    instance_prompt: Mapped[str] = mapped_column(Text, default="")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="PENDING")
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)
    credit_cost: Mapped[int] = mapped_column(Integer, default=0)
    api_key_id: Mapped[str | None] = mapped_column(String(36), default=None)
    weights_key: Mapped[str | None] = mapped_column(String(300), default=None)
    weights_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    weights_size_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    lineage: Mapped[dict[str, Any]] = mapped_column(default=dict)
    evaluation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
