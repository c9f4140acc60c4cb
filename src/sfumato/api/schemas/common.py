"""Helpers shared by the wire schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class WireModel(BaseModel):
    """Request bodies: unknown keys are accepted and ignored, as Leonardo does."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")


def timestamp(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds")


def compact(data: dict[str, Any]) -> dict[str, Any]:
    """Drop ``None`` values: the SDK's optional-but-not-nullable fields reject an explicit null."""
    return {key: value for key, value in data.items() if value is not None}
