"""The one place kinds are registered: the worker runs, and the service queues, only these."""

from __future__ import annotations

from typing import Any

from sfumato.jobs.kind import JobKind
from sfumato.jobs.kinds import (
    blueprint_step,
    editing,
    realtime,
    text_to_image,
    texture,
    training,
    variation,
    video,
    video_upscale,
)

KINDS: dict[str, JobKind[Any]] = {
    kind.name: kind
    for kind in (
        text_to_image.KIND,
        blueprint_step.KIND,
        editing.IMAGE_TO_IMAGE_KIND,
        editing.INPAINT_KIND,
        variation.KIND,
        realtime.KIND,
        video.KIND,
        video_upscale.KIND,
        training.KIND,
        texture.KIND,
    )
}


def kind_of(name: str) -> JobKind[Any] | None:
    """The kind called ``name``; None for a kind this version does not know."""
    return KINDS.get(name)
