"""Read models the API layer translates to the wire. Plain data, no ORM objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ProgressView:
    """How far a running job got: ``stage``, and ``step`` of ``total`` (0 of 0: no steps)."""

    stage: str
    step: int
    total: int


@dataclass(frozen=True)
class VariationView:
    """A job's result on an existing image (upscale, unzoom, no background); ``url`` once done."""

    id: str
    status: str  # PENDING | COMPLETE | FAILED
    transform: str  # UPSCALE | UNZOOM | NOBG
    url: str | None
    width: int | None
    height: int | None
    credit_cost: int
    failure_reason: str | None
    created_at: datetime
    lineage: dict[str, Any] = field(default_factory=dict)  # how it was made, as the worker recorded it
    queue_position: int | None = None  # while queued: 1 is next (see store.progress)
    progress: ProgressView | None = None  # while running
    nsfw: bool = False  # the output safety check flagged it


@dataclass(frozen=True)
class ImageView:
    id: str
    url: str
    seed: int
    width: int
    height: int
    sha256: str = ""  # of the stored PNG: equal hashes are equal pixels
    nsfw: bool = False
    like_count: int = 0
    variations: list[VariationView] = field(default_factory=list)
    video: VideoView | None = None  # a clip's output: this image is its poster


@dataclass(frozen=True)
class VideoView:
    """A clip beside its poster: where it is and what it holds."""

    url: str
    sha256: str
    frame_count: int
    fps: float
    duration_seconds: float


@dataclass(frozen=True)
class MotionView:
    """What a clip was asked for: the motion model name, SVD's strength, the end frame."""

    model: str  # MOTION2, VEO3 … or SVD
    strength: int | None
    end_frame_image_id: str | None
    end_frame_generated: bool
    end_frame_sha256: str | None


@dataclass(frozen=True)
class SourceView:
    """The picture (and mask) an image-to-image or canvas generation started from."""

    init_image_id: str | None  # an uploaded init image (or canvas init image)
    init_generated_image_id: str | None  # or an image sfumato generated
    init_sha256: str  # content hash of the source bytes used
    init_strength: float  # Leonardo's dial: how strongly the output reflects the picture
    canvas_type: str | None  # INPAINT | OUTPAINT | SKETCH2IMG | IMG2IMG for canvas requests
    mask_image_id: str | None
    mask_sha256: str | None


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
    scheduler: str | None
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
    source: SourceView | None = None  # set when the generation started from a picture
    api_key_id: str | None = None
    model_key: str = ""  # the catalog entry that ran it
    lineage: dict[str, Any] = field(default_factory=dict)  # how it was made, as the worker recorded it
    replay_of: str | None = None  # the generation this one re-ran, for a replay
    queue_position: int | None = None  # while queued: 1 is next (see store.progress)
    progress: ProgressView | None = None  # while running
    motion: MotionView | None = None  # set for a video clip


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


@dataclass(frozen=True)
class CatalogModelView:
    """A catalog model as an operator sees it: where its weights are, who runs it."""

    key: str
    id: str
    family: str
    name: str
    weights_here: bool  # tiny models count: they are built on first use
    served: bool | None  # a live worker advertises it; None: unknown
    how_to_obtain: str
    memory: str = ""  # how a GPU holds it: "bfloat16, model offload", "float16 (auto)" …
