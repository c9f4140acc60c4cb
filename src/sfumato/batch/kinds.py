"""The kinds of job a batch line may ask for, each in Leonardo's wire format.

A kind names the endpoint a line is POSTed to, the wire schema its body must satisfy
(the server's own, so a bad line is refused before anything is sent), where the job is
read back, and what the pricing calculator needs to quote it. Reading results is one
function per resource shape: a generation (images or a clip) and a variation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from sfumato.api.schemas.generations import CreateGenerationBody
from sfumato.api.schemas.motion import ImageToVideoBody, SvdMotionBody, TextToVideoBody
from sfumato.api.schemas.variations import (
    UniversalUpscalerBody,
    VariationNoBgBody,
    VariationUnzoomBody,
    VariationUpscaleBody,
)

Resource = Literal["generation", "variation"]
PENDING, COMPLETE, FAILED = "PENDING", "COMPLETE", "FAILED"


@dataclass(frozen=True)
class Output:
    """One file a finished job produced: where to fetch it and what it is."""

    url: str
    media: Literal["image", "video"]
    id: str | None = None  # the server's id of the picture (a generated image's, for a variation line)


@dataclass(frozen=True)
class JobState:
    """A job as its GET reads, reduced to what the batch needs."""

    status: str  # PENDING, COMPLETE or FAILED (Leonardo's statuses)
    outputs: tuple[Output, ...] = ()
    seeds: tuple[int, ...] = ()
    cost: int | None = None
    failure_reason: str | None = None
    lineage: dict[str, Any] | None = None
    queued: bool = False  # sfumato's queuePosition: waiting for a worker
    running: bool = False  # sfumato's progress: a worker has it

    @property
    def finished(self) -> bool:
        return self.status in (COMPLETE, FAILED)


@dataclass(frozen=True)
class Kind:
    name: str
    path: str  # POST, under the API base
    schema: type[BaseModel]
    resource: Resource
    price: Callable[[dict[str, Any]], dict[str, Any] | None]  # the pricing-calculator body, if any

    def read_path(self, job_id: str) -> str:
        return f"/generations/{job_id}" if self.resource == "generation" else f"/variations/{job_id}"

    def read_state(self, answer: dict[str, Any]) -> JobState:
        if self.resource == "generation":
            return generation_state(answer["generations_by_pk"])
        return variation_state(answer["generated_image_variation_generic"][0])


def created_job(answer: dict[str, Any]) -> tuple[str, int | None]:
    """The job id and credit cost of a create response: every kind answers with one object
    (``sdGenerationJob``, ``sdUpscaleJob``, ``motionVideoGenerationJob`` …) holding
    ``generationId`` or ``id`` and ``apiCreditCost``."""
    (handle,) = answer.values()
    job_id = handle.get("generationId") or handle.get("id")
    if not isinstance(job_id, str):
        raise ValueError(f"no job id in the create response {answer!r}")
    cost = handle.get("apiCreditCost")
    return job_id, int(cost) if cost is not None else None


def generation_state(generation: dict[str, Any]) -> JobState:
    outputs = []
    for image in generation.get("generated_images") or []:
        if image.get("motionMP4URL"):
            outputs.append(Output(image["motionMP4URL"], "video", image.get("id")))
        elif image.get("url"):
            outputs.append(Output(image["url"], "image", image.get("id")))
    return JobState(
        status=generation["status"],
        outputs=tuple(outputs),
        seeds=tuple(generation.get("imageSeeds") or ()),
        cost=generation.get("apiCreditCost"),
        failure_reason=generation.get("failureReason"),
        lineage=generation.get("lineage"),
        queued=generation.get("queuePosition") is not None,
        running=generation.get("progress") is not None,
    )


def variation_state(variation: dict[str, Any]) -> JobState:
    url = variation.get("url")
    return JobState(
        status=variation["status"],
        outputs=(Output(url, "image", variation.get("id")),)
        if url and variation["status"] == COMPLETE
        else (),
        cost=variation.get("apiCreditCost"),
        failure_reason=variation.get("failureReason"),
        lineage=variation.get("lineage"),
        queued=variation.get("queuePosition") is not None,
        running=variation.get("progress") is not None,
    )


def _quote(service: str, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "service": service,
        "serviceParams": {service: {k: v for k, v in params.items() if v is not None}},
    }


def _price_image(body: dict[str, Any]) -> dict[str, Any]:
    return _quote(
        "IMAGE_GENERATION",
        {
            "imageWidth": body.get("width"),
            "imageHeight": body.get("height"),
            "inferenceSteps": body.get("num_inference_steps"),
            "numImages": body.get("num_images", 4),  # what the endpoint takes when it is left out
            "modelId": body.get("modelId"),  # sfumato's addition: the quote of this very model
        },
    )


def _price_video(body: dict[str, Any]) -> dict[str, Any]:
    return _quote("MOTION_VIDEO_GENERATION", {"resolution": body.get("resolution")})


def _unpriced(body: dict[str, Any]) -> None:
    return None  # the pricing calculator has no service for this kind


def _price_svd(body: dict[str, Any]) -> dict[str, Any]:
    return _quote("MOTION_SVD_GENERATION", {})


# The universal upscaler is priced by the size of a picture the line only names: unquotable.
KINDS = {
    kind.name: kind
    for kind in (
        Kind("image", "/generations", CreateGenerationBody, "generation", _price_image),
        Kind("text-to-video", "/generations-text-to-video", TextToVideoBody, "generation", _price_video),
        Kind("image-to-video", "/generations-image-to-video", ImageToVideoBody, "generation", _price_video),
        Kind("motion-svd", "/generations-motion-svd", SvdMotionBody, "generation", _price_svd),
        Kind("upscale", "/variations/upscale", VariationUpscaleBody, "variation", _unpriced),
        Kind("nobg", "/variations/nobg", VariationNoBgBody, "variation", _unpriced),
        Kind("unzoom", "/variations/unzoom", VariationUnzoomBody, "variation", _unpriced),
        Kind(
            "universal-upscaler",
            "/variations/universal-upscaler",
            UniversalUpscalerBody,
            "variation",
            _unpriced,
        ),
    )
}
DEFAULT_KIND = "image"
