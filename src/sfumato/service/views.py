"""Read models the API layer translates to the wire. Plain data, no ORM objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ImageView:
    id: str
    url: str
    seed: int
    width: int
    height: int
    nsfw: bool = False
    like_count: int = 0


@dataclass(frozen=True)
class GenerationView:
    id: str
    user_id: str
    status: str
    model_id: str
    prompt: str
    negative_prompt: str | None
    width: int
    height: int
    num_images: int
    steps: int
    guidance_scale: float
    seed: int
    scheduler: str
    preset_style: str | None
    sd_version: str | None
    tiling: bool
    public: bool
    flags: dict[str, Any]
    credit_cost: int
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime
    images: list[ImageView] = field(default_factory=list)


@dataclass(frozen=True)
class PlatformModelView:
    id: str
    key: str
    name: str
    description: str
    family: str
    sd_version: str
    featured: bool
    nsfw: bool
    ready: bool
    how_to_obtain: str | None
    default_width: int
    default_height: int


@dataclass(frozen=True)
class AccountView:
    user_id: str
    username: str
    credit_balance: int
    concurrency_slots: int
    created_at: datetime
