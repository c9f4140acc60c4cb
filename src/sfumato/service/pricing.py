"""What a job costs, in credits. One table; quotes and charges both read it."""

from __future__ import annotations

import math

# Credits per image for a 512×512, 15-step run of a model family; cost scales with
# pixels and steps, so a bigger or longer image costs proportionally more.
IMAGE_BASE_CREDITS = {"sd15": 2, "sd-turbo": 1, "sdxl": 4}
DEFAULT_IMAGE_BASE = 4
REFERENCE_PIXELS = 512 * 512
REFERENCE_STEPS = 15


def image_generation_cost(*, family: str, width: int, height: int, steps: int, num_images: int) -> int:
    base = IMAGE_BASE_CREDITS.get(family, DEFAULT_IMAGE_BASE)
    scale = max(width * height / REFERENCE_PIXELS, 0.25) * max(steps / REFERENCE_STEPS, 0.25)
    return num_images * max(1, math.ceil(base * scale))
