"""Typed task specs in and outputs back: the engine's whole contract with the worker.

They use the engine's own plain names; translating Leonardo's wire names happens once, in
the service, so nothing here knows the wire spelling except the scheduler names, which are
an enumeration Leonardo defines and the catalog of schedulers maps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sfumato.engine.adapters import Adapter

if TYPE_CHECKING:
    from PIL.Image import Image


@dataclass(frozen=True)
class TextToImageSpec:
    """One text-to-image run: every image shares the prompt and settings, not the seed.

    ``seeds`` holds one seed per image, so its length is the number of images; seeding each
    image on its own is what lets a dynamically batched run reproduce single runs.
    ``scheduler`` is a Leonardo scheduler name, or None for the model's own scheduler.
    """

    model_key: str
    prompt: str
    negative_prompt: str | None
    width: int
    height: int
    steps: int
    guidance_scale: float
    seeds: tuple[int, ...]
    scheduler: str | None = None
    tiling: bool = False
    adapters: tuple[Adapter, ...] = ()  # LoRAs applied for this run only (custom models, elements)
    previews: int = 0  # partial pictures decoded while it runs (engine/report.py)


@dataclass
class ImageOutput:
    """The images of one run, their seeds in the same order, and how to reproduce them.

    ``lineage`` is plain JSON-able data (model key, weight hash, scheduler class, steps,
    guidance, library versions, device, dtype) that the worker stores beside each image.
    """

    images: list[Image]
    seeds: list[int]
    lineage: dict[str, object] = field(default_factory=dict)
