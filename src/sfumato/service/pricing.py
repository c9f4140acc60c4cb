"""What a job costs, in credits. One table; quotes and charges both read it.

The numbers live in ``pricing.toml`` beside this module (an operator overrides any of
them with ``SFUMATO_PRICING_FILE``). Each service has one method here; the job that
runs the service charges what that method returns, and ``POST /pricing-calculator``
quotes the very same method, so a quote is always the charge.

Outputs the content policy withholds are refunded their share: the charge split evenly over
the job's outputs, the withheld ones' shares (rounded down) returned once the job is
recorded (``store.credits.refund_share``); a job whose every output is withheld fails and is
refunded in full, as any failure.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from sfumato.errors import InvalidRequest

# The smallest training resolution; any multiple of 8 up to the largest price tier is priced
# as the next tier (Leonardo prices 512, 768 and 1024 only).
MIN_TRAINING_RESOLUTION = 64


class PriceTable:
    """Credits per service, computed from a nested table of numbers."""

    def __init__(self, table: Mapping[str, Any]) -> None:
        self._t = table

    @classmethod
    def load(cls, override: Path | None = None) -> PriceTable:
        """The packaged table, merged key by key with ``override`` when that file exists."""
        table = _packaged()
        if override is not None and override.is_file():
            table = _merge(table, tomllib.loads(override.read_text()))
        return cls(table)

    @classmethod
    def default(cls) -> PriceTable:
        return cls(_packaged())

    # -- images -------------------------------------------------------------------------

    def family_for_flags(self, flags: Mapping[str, bool | None]) -> str | None:
        """The model family a pricing-calculator request's ``is…`` flags select, if any."""
        for flag, family in self._t["image_generation"]["calculator_flags"].items():
            if flags.get(flag):
                return str(family)
        return None

    def model_for_flags(self, flags: Mapping[str, bool | None]) -> str | None:
        """The model (a catalog key or a Leonardo id) the first ``is…`` flag set names, if it
        names one (see ``calculator_models``); same precedence as :meth:`family_for_flags`."""
        models = self._t["image_generation"].get("calculator_models", {})
        for flag in self._t["image_generation"]["calculator_flags"]:
            if flags.get(flag):
                return str(models[flag]) if flag in models else None
        return None

    def image_generation(
        self,
        *,
        family: str,
        width: int,
        height: int,
        steps: int,
        num_images: int,
        elements: int = 0,
        controlnets_cost: int = 0,
    ) -> int:
        t = self._t["image_generation"]
        base = float(t["family_credits"].get(family, t["default_family"]))
        per_image = base * self._pixel_scale(width, height) * self._step_scale(steps)
        per_image += elements * float(t["credits_per_element"])
        return num_images * max(1, math.ceil(per_image)) + max(0, controlnets_cost)

    def fantasy_avatar_generation(self, *, width: int, height: int, num_images: int) -> int:
        per_image = self._t["fantasy_avatar_generation"]["credits_per_image"] * self._pixel_scale(
            width, height
        )
        return num_images * max(1, math.ceil(per_image))

    def lcm_generation(
        self, *, width: int, height: int, refine: bool = False, instant_refine: bool = False
    ) -> int:
        t = self._t["lcm_generation"]
        key = "refine_credits" if refine else "instant_refine_credits" if instant_refine else "credits"
        return max(1, math.ceil(float(t[key]) * self._pixel_scale(width, height)))

    # -- video, training, textures ------------------------------------------------------

    def motion_svd_generation(self) -> int:
        return int(self._t["motion_svd_generation"]["credits"])

    def motion_video_generation(self, *, resolution: str) -> int:
        return self._by_resolution("motion_video_generation", resolution)

    def veo3_motion_video_generation(self, *, resolution: str) -> int:
        return self._by_resolution("veo3_motion_video_generation", resolution)

    def model_training(
        self, *, resolution: int, dataset_images: int | None = None, flux_dev: bool = False
    ) -> int:
        t = self._t["model_training"]
        if flux_dev:
            return max(1, int(t["flux_dev_credits_per_image"]) * (dataset_images or 1))
        factors = t["resolution_factor"]
        tiers = sorted(int(tier) for tier in factors)
        if not MIN_TRAINING_RESOLUTION <= resolution <= tiers[-1] or resolution % 8:
            raise InvalidRequest(
                f"resolution must be a multiple of 8 from {MIN_TRAINING_RESOLUTION} to {tiers[-1]}; "
                f"it is priced as the next of {', '.join(map(str, tiers))}"
            )
        tier = next(tier for tier in tiers if tier >= resolution)
        return math.ceil(float(t["credits"]) * float(factors[str(tier)]))

    def texture_generation(self, *, preview: bool) -> int:
        t = self._t["texture_generation"]
        return int(t["preview_credits"] if preview else t["credits"])

    # -- upscaling and variations -------------------------------------------------------

    def universal_upscaler(self, *, megapixels: float) -> int:
        """Per started megapixel of output: whole megapixels are the calculator's unit."""
        credits = float(self._t["universal_upscaler"]["credits_per_megapixel"]) * math.ceil(megapixels)
        return max(1, math.ceil(credits))

    def universal_upscaler_ultra(self, *, input_width: int, input_height: int, multiplier: float) -> int:
        megapixels = input_width * input_height * multiplier * multiplier / 1_000_000
        credits = float(self._t["universal_upscaler_ultra"]["credits_per_megapixel"]) * megapixels
        return max(1, math.ceil(credits))

    def variation(self, kind: str) -> int:
        """A job on an existing image: ``upscale``, ``nobg`` or ``unzoom``."""
        return int(self._t["variations"][kind])

    # -- prompt tools -------------------------------------------------------------------

    def prompt_improve(self) -> int:
        return int(self._t["prompt"]["improve"])

    def prompt_random(self) -> int:
        return int(self._t["prompt"]["random"])

    # -- helpers ------------------------------------------------------------------------

    def _pixel_scale(self, width: int, height: int) -> float:
        t = self._t["image_generation"]
        return max(width * height / float(t["reference_pixels"]), float(t["min_scale"]))

    def _step_scale(self, steps: int) -> float:
        t = self._t["image_generation"]
        return max(steps / float(t["reference_steps"]), float(t["min_scale"]))

    def _by_resolution(self, service: str, resolution: str) -> int:
        credits = self._t[service]["resolution_credits"]
        if resolution not in credits:
            raise InvalidRequest(f"resolution must be one of {', '.join(credits)}")
        return int(credits[resolution])


@cache
def _packaged() -> dict[str, Any]:
    return tomllib.loads(resources.files("sfumato.service").joinpath("pricing.toml").read_text())


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def image_generation_cost(*, family: str, width: int, height: int, steps: int, num_images: int) -> int:
    """The packaged table's price of a text-to-image job (what an unconfigured server charges)."""
    return PriceTable.default().image_generation(
        family=family, width=width, height=height, steps=steps, num_images=num_images
    )
