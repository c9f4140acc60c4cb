"""Variations: a job on a picture that exists — upscale, unzoom, background removal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeVar

from sfumato.blobs import BlobStore
from sfumato.engine import Engine, EngineError, nobg, unzoom, upscale
from sfumato.engine.specs import ImageOutput
from sfumato.jobs.artifacts import Attempt, TaskResult, read_picture
from sfumato.jobs.kind import JobKind
from sfumato.jobs.subjects import VariationSubject
from sfumato.jobs.writers import store_png
from sfumato.store import queue
from sfumato.store import variations as variation_store

NAME = "variation"
Transform = Literal["UPSCALE", "NOBG", "UNZOOM"]


@dataclass(frozen=True, kw_only=True)
class CreativePass:
    """The universal upscaler's diffusion pass over tiles (LCM image-to-image)."""

    model_key: str
    prompt: str
    strength: float
    steps: int
    guidance_scale: float
    seed: int


@dataclass(frozen=True, kw_only=True)
class VariationPayload:
    """One transform of one picture; the fields after ``source_key`` belong to one transform each."""

    variation_id: str
    transform: Transform
    source_key: str  # the picture it starts from
    api_key_id: str | None = None  # whose webhook hears of its end
    # UPSCALE
    upscaler: str | None = None
    multiplier: float | None = None
    creative: CreativePass | None = None
    detail_contrast: int | None = None
    # NOBG
    segmenter: str | None = None
    # UNZOOM: the painting model and how it paints the frame
    factor: float | None = None
    model_key: str | None = None
    prompt: str = ""
    steps: int | None = None
    guidance_scale: float | None = None
    seed: int | None = None

    def models(self) -> tuple[str, ...]:
        """What the runner loads; the first (the rarest on a fleet) is what the job is claimed by."""
        if self.transform == "UPSCALE":
            creative = (self.creative.model_key,) if self.creative else ()
            return (_given(self.upscaler, "upscaler"), *creative)
        if self.transform == "NOBG":
            return (_given(self.segmenter, "segmenter"),)
        return (_given(self.model_key, "model_key"),)


T = TypeVar("T")


def _given(value: T | None, name: str) -> T:
    if value is None:
        raise EngineError(f"a variation job's payload lacks {name}")
    return value


def run(engine: Engine, blobs: BlobStore, attempt: Attempt, payload: VariationPayload) -> TaskResult:
    source = read_picture(blobs, payload.source_key, "the source picture")
    output: ImageOutput
    if payload.transform == "UPSCALE":
        creative = payload.creative
        output = upscale.upscale(
            engine,
            upscale.UpscaleSpec(
                image=source,
                multiplier=_given(payload.multiplier, "multiplier"),
                upscaler=_given(payload.upscaler, "upscaler"),
                creative=upscale.CreativePass(**vars(creative)) if creative else None,
                detail_contrast=payload.detail_contrast,
            ),
        )
    elif payload.transform == "NOBG":
        output = nobg.remove_background(engine, _given(payload.segmenter, "segmenter"), source)
    else:
        output = unzoom.unzoom(
            engine,
            unzoom.UnzoomSpec(
                model_key=_given(payload.model_key, "model_key"),
                prompt=payload.prompt,
                image=source,
                factor=_given(payload.factor, "factor"),
                steps=_given(payload.steps, "steps"),
                guidance_scale=_given(payload.guidance_scale, "guidance_scale"),
                seed=_given(payload.seed, "seed"),
            ),
        )
    [image] = output.images
    key = variation_store.blob_key(payload.variation_id, attempt.lease)
    seed = output.seeds[0] if output.seeds else None
    return [store_png(blobs, key, image, seed=seed)], dict(output.lineage)


KIND: JobKind[VariationPayload] = JobKind(
    name=NAME,
    payload=VariationPayload,
    version=1,
    run=run,
    subject=VariationSubject(),
    lane=queue.INTERACTIVE,
    models=VariationPayload.models,
    output_keys=lambda attempt, payload: [variation_store.blob_key(payload.variation_id, attempt.lease)],
    event="variation",
    subject_id=lambda payload: payload.variation_id,
)
