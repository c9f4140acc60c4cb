"""Runners of jobs on one picture — variations and realtime canvas requests: payload in, one PNG out."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sfumato.blobs import BlobStore
from sfumato.blobs.base import BlobNotFound
from sfumato.engine import Engine, EngineError, lcm, nobg, unzoom, upscale
from sfumato.engine.specs import ImageOutput
from sfumato.store import realtime as realtime_store
from sfumato.store import variations as variation_store
from sfumato.worker.outcomes import Attempt, StoredImage

if TYPE_CHECKING:
    from PIL.Image import Image

TaskResult = tuple[list[StoredImage], dict[str, object]]


def run_variation(engine: Engine, blobs: BlobStore, attempt: Attempt, payload: dict[str, Any]) -> TaskResult:
    source = read_picture(blobs, payload["source_key"], "the source picture")
    transform = payload["transform"]
    output: ImageOutput
    if transform == "UPSCALE":
        creative = payload.get("creative")
        output = upscale.upscale(
            engine,
            upscale.UpscaleSpec(
                image=source,
                multiplier=float(payload["multiplier"]),
                upscaler=payload["upscaler"],
                creative=upscale.CreativePass(**creative) if creative else None,
                detail_contrast=payload.get("detail_contrast"),
            ),
        )
    elif transform == "NOBG":
        output = nobg.remove_background(engine, payload["segmenter"], source)
    elif transform == "UNZOOM":
        output = unzoom.unzoom(
            engine,
            unzoom.UnzoomSpec(
                model_key=payload["model_key"],
                prompt=payload["prompt"],
                image=source,
                factor=float(payload["factor"]),
                steps=int(payload["steps"]),
                guidance_scale=float(payload["guidance_scale"]),
                seed=int(payload["seed"]),
            ),
        )
    else:
        raise EngineError(f"unknown variation {transform!r}")
    key = variation_store.blob_key(payload["variation_id"], attempt.lease)
    return [store_png(blobs, key, output)], dict(output.lineage)


def run_realtime(engine: Engine, blobs: BlobStore, attempt: Attempt, payload: dict[str, Any]) -> TaskResult:
    inputs = payload["inputs"]
    canvas = read_picture(blobs, inputs["image"], "the canvas")
    seed = int(payload["seed"])
    output: ImageOutput
    if payload["operation"] == "upscale":
        creative = upscale.CreativePass(
            model_key=payload["model_key"],
            prompt=payload["prompt"],
            strength=float(payload["strength"]),
            steps=int(payload["steps"]),
            guidance_scale=float(payload["guidance_scale"]),
            seed=seed,
        )
        spec = upscale.UpscaleSpec(
            image=canvas,
            multiplier=float(payload["multiplier"]),
            upscaler=payload["upscaler"],
            creative=creative,
        )
        output = upscale.upscale(engine, spec)
    else:
        mask = read_picture(blobs, inputs["mask"], "the mask", mode="L") if "mask" in inputs else None
        output = lcm.run(
            engine,
            lcm.CanvasSpec(
                model_key=payload["model_key"],
                prompt=payload["prompt"],
                image=canvas,
                steps=int(payload["steps"]),
                guidance_scale=float(payload["guidance_scale"]),
                strength=float(payload["strength"]),
                seed=seed,
                mask=mask,
            ),
        )
    key = realtime_store.output_key(payload["request_id"], attempt.lease)
    return [store_png(blobs, key, output)], dict(output.lineage)


@dataclass(frozen=True)
class PictureModels:
    """The upscalers and segmenters that can run here, by the names variation jobs carry as
    their model key (so a worker advertising a name is one that can load it)."""

    upscalers: frozenset[str]
    segmenters: frozenset[str]

    @classmethod
    def ready(
        cls, models_dir: Path, *, upscalers: Iterable[str] = (), segmenters: Iterable[str] = ()
    ) -> PictureModels:
        """The tiny ones (built on demand), the known names whose weights are present, and
        ``upscalers`` / ``segmenters`` (configured names or paths) whose weights are present."""
        upscaler_names = (upscale.TINY_UPSCALER, *upscale.KNOWN_UPSCALERS, *upscalers)
        segmenter_names = (nobg.TINY_SEGMENTER, *nobg.KNOWN_SEGMENTERS, *segmenters)
        return cls(
            upscalers=frozenset(n for n in upscaler_names if upscale.is_ready(n, models_dir)),
            segmenters=frozenset(n for n in segmenter_names if nobg.is_ready(n, models_dir)),
        )

    @property
    def names(self) -> frozenset[str]:
        return self.upscalers | self.segmenters

    def loaded(self, models_dir: Path, device: str) -> list[str]:
        """Those this process holds on ``device`` already."""
        held = [n for n in self.upscalers if upscale.is_loaded(n, models_dir, device)]
        held += [n for n in self.segmenters if nobg.is_loaded(n, models_dir, device)]
        return sorted(held)


def read_picture(blobs: BlobStore, key: str, what: str, mode: str = "RGB") -> Image:
    from PIL import Image as PILImage

    try:
        data = blobs.get(key)
    except BlobNotFound:
        raise EngineError(f"{what} is gone (deleted before the job ran)") from None
    with PILImage.open(io.BytesIO(data)) as opened:
        return opened.convert(mode)


def store_png(blobs: BlobStore, key: str, output: ImageOutput) -> StoredImage:
    """Upload a run's one picture as PNG under ``key`` (the attempt's own)."""
    [image] = output.images
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = buffer.getvalue()
    blobs.put(key, data, "image/png")
    return StoredImage(
        position=0,
        seed=output.seeds[0] if output.seeds else 0,
        blob_key=key,
        content_type="image/png",
        width=image.width,
        height=image.height,
        sha256=hashlib.sha256(data).hexdigest(),
    )


RUNNERS = {
    variation_store.JOB_KIND: run_variation,
    realtime_store.JOB_KIND: run_realtime,
}
