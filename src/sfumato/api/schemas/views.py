"""The read models in Leonardo's spelling: one rendering per wire shape.

``GET /generations/{id}``, the generations list and the webhook event's ``data.object``
all render a generation with :func:`generation_object`; ``GET /variations/{id}`` and a
variation's webhook event both use :func:`variation_object`. Only the GETs of a pending
resource carry its standing (queue position, progress); lists and events never do. Plain functions over the
service's views: no web framework here, so the webhook sender imports them too.
"""

from __future__ import annotations

from typing import Any

from sfumato.api.schemas.common import compact, timestamp
from sfumato.service.views import (
    GenerationView,
    ImageView,
    MotionView,
    ProgressView,
    SourceView,
    VariationView,
)


def generation_object(view: GenerationView) -> dict[str, Any]:
    """The generation as ``generations_by_pk`` and list items carry it."""
    flags = view.flags
    return compact(
        {
            "id": view.id,
            "createdAt": timestamp(view.created_at),
            "status": view.status,
            "modelId": view.model_id,
            "prompt": view.prompt,
            "negativePrompt": view.negative_prompt or "",
            "imageWidth": view.width,
            "imageHeight": view.height,
            "inferenceSteps": view.steps,
            "guidanceScale": view.guidance_scale,
            "seed": view.seed,
            "scheduler": view.scheduler or None,  # a clip runs its model's own (flow-matching) scheduler
            "presetStyle": view.preset_style,
            "sdVersion": view.sd_version,
            "public": view.public,
            "photoReal": bool(flags.get("photoReal", False)),
            "photoRealStrength": flags.get("photoRealStrength"),
            "promptMagic": bool(flags.get("promptMagic", False)),
            "promptMagicStrength": flags.get("promptMagicStrength"),
            "promptMagicVersion": flags.get("promptMagicVersion"),
            "ultra": bool(flags.get("ultra", False)),
            "generation_elements": [],
            "generated_images": [
                {
                    "id": image.id,
                    "url": image.url,
                    "nsfw": image.nsfw,
                    "likeCount": image.like_count,
                    "motion": view.motion is not None,
                    "imageToVideo": view.motion is not None and view.source is not None,
                    "fantasyAvatar": False,
                    "generated_image_variation_generics": [
                        variation_generic(v) for v in image.variations if v.transform in IMAGE_TRANSFORMS
                    ],
                    **_clip(image, view.motion),
                }
                for image in view.images
            ],
            # sfumato's additions: the seed per image, a failure's reason, how it was made.
            "imageSeeds": [image.seed for image in view.images],
            "apiCreditCost": view.credit_cost,
            "failureReason": view.failure_reason,
            "tiling": view.tiling,
            **(_motion(view) if view.motion is not None else _source(view.source)),
            "lineage": generation_lineage(view),
            **standing(view.queue_position, view.progress),
        }
    )


def standing(queue_position: int | None, progress: ProgressView | None) -> dict[str, Any]:
    """sfumato's additions while a job is pending: ``queuePosition`` while it waits (1 is
    next), ``progress`` ``{stage, step, total}`` while it runs; neither once it is done."""
    return compact(
        {
            "queuePosition": queue_position,
            "progress": {"stage": progress.stage, "step": progress.step, "total": progress.total}
            if progress
            else None,
        }
    )


def _clip(image: ImageView, motion: MotionView | None) -> dict[str, Any]:
    """A clip's generated image: its ``url`` is the poster, ``motionMP4URL`` the video."""
    if motion is None or image.video is None:
        return {}
    return compact(
        {
            "motionMP4URL": image.video.url,
            "motionModel": motion.model,
            "motionStrength": motion.strength,
            # sfumato's additions: what the clip holds.
            "motionFrameCount": image.video.frame_count,
            "motionFps": image.video.fps,
            "motionDuration": image.video.duration_seconds,
        }
    )


def _motion(view: GenerationView) -> dict[str, Any]:
    """A clip's generation: its motion model, the video, and the pictures it started from."""
    motion, source = view.motion, view.source
    assert motion is not None
    first = next((image for image in view.images if image.video is not None), None)
    return compact(
        {
            "motionModel": motion.model,
            "motionStrength": motion.strength,
            "motionMP4URL": first.video.url if first and first.video else None,
            "imageToVideo": source is not None,
            "initImageId": source.init_image_id if source else None,
            "initGeneratedImageId": source.init_generated_image_id if source else None,
            # sfumato's additions: the content hashes of the pictures used, the end frame.
            "initImageSha256": source.init_sha256 if source else None,
            "endFrameImageId": motion.end_frame_image_id,
            "endFrameImageType": ("GENERATED" if motion.end_frame_generated else "UPLOADED")
            if motion.end_frame_image_id
            else None,
            "endFrameImageSha256": motion.end_frame_sha256,
        }
    )


def _source(source: SourceView | None) -> dict[str, Any]:
    """Where an image-to-image or canvas generation started, in Leonardo's generation columns."""
    if source is None:
        return {}
    canvas = source.canvas_type is not None
    return {
        "initStrength": source.init_strength,
        "imageToImage": True,
        "initImageId": None if canvas else source.init_image_id,
        "initGeneratedImageId": source.init_generated_image_id,
        "canvasRequest": canvas,
        "canvasRequestType": source.canvas_type,
        "canvasInitImageId": source.init_image_id if canvas else None,
        "canvasMaskImageId": source.mask_image_id,
        # sfumato's additions: the content hashes of the source bytes used.
        "initImageSha256": source.init_sha256,
        "maskImageSha256": source.mask_sha256,
    }


def generation_lineage(view: GenerationView) -> dict[str, Any] | None:
    """What the worker recorded (model and weight hash, scheduler, batch, device, library
    versions …) plus the output and source hashes: enough to replay the generation and to
    tell whether the replay drew the same pixels. ``None`` until anything is known."""
    if not view.lineage and view.replay_of is None:
        return None
    source = view.source
    videos = [image.video.sha256 for image in view.images if image.video is not None]
    return compact(
        {
            **recorded(view.lineage),
            "seeds": [image.seed for image in view.images] or None,
            "imageSha256": [image.sha256 for image in view.images] or None,
            "videoSha256": videos or None,
            "motionModel": view.motion.model if view.motion else None,
            "endFrameImageSha256": view.motion.end_frame_sha256 if view.motion else None,
            "initImageSha256": source.init_sha256 if source else None,
            "maskImageSha256": source.mask_sha256 if source else None,
            "replayOf": view.replay_of,
        }
    )


def recorded(lineage: dict[str, Any]) -> dict[str, Any]:
    """A recorded lineage in the wire's camelCase (``weights_hash`` → ``weightsHash``)."""
    return {camel(name): value for name, value in lineage.items()}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


IMAGE_TRANSFORMS = ("UPSCALE", "UNZOOM", "NOBG", "OUTPAINT", "INPAINT")  # a clip's variations list apart


def variation_generic(view: VariationView) -> dict[str, Any]:
    """A variation as a generated image lists it (``generated_image_variation_generics``)."""
    return compact({"id": view.id, "status": view.status, "transformType": view.transform, "url": view.url})


def variation_object(view: VariationView) -> dict[str, Any]:
    """``GET /variations/{id}``'s item; sfumato adds size, cost, a failure's reason and the lineage."""
    return compact(
        {
            **variation_generic(view),
            "createdAt": timestamp(view.created_at),
            "width": view.width,
            "height": view.height,
            "apiCreditCost": view.credit_cost,
            "nsfw": view.nsfw,
            "failureReason": view.failure_reason,
            "lineage": recorded(view.lineage) or None,
            **standing(view.queue_position, view.progress),
        }
    )


def motion_variation_object(view: VariationView) -> dict[str, Any]:
    """``GET /motion-variations/{id}``'s item (a clip's upscale); sfumato adds size, cost, a
    failure's reason and the lineage."""
    return compact(
        {
            "id": view.id,
            "status": view.status,
            "url": view.url,
            "resolution": "RESOLUTION_720",
            "motionTransformType": "UPSCALE",
            "createdAt": timestamp(view.created_at),
            "width": view.width,
            "height": view.height,
            "apiCreditCost": view.credit_cost,
            "failureReason": view.failure_reason,
            "lineage": recorded(view.lineage) or None,
            **standing(view.queue_position, view.progress),
        }
    )
