"""The body of a webhook event: Leonardo's documented envelope, with the generation in camelCase.

``{"type", "object", "timestamp" (epoch ms), "api_version": "v1", "data": {"object": …}}``.
This module is the webhook's wire format, as ``api/schemas`` is the API's. It is
rendered once, on the first delivery attempt, and stored: retries send the same bytes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from sfumato.blobs import BlobStore
from sfumato.engine.catalog import Catalog
from sfumato.store.models import ApiKey, Generation, Job, WebhookDelivery


def _ts(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds") if value is not None else None


def _generation_object(
    generation: Generation, key: ApiKey | None, blobs: BlobStore, catalog: Catalog
) -> dict[str, Any]:
    flags = dict(generation.flags or {})
    entry = catalog.resolve(generation.model_key)
    init_image_id = getattr(generation, "init_image_id", None)
    init_generated_image_id = getattr(generation, "init_generated_image_id", None)
    return {
        "id": generation.id,
        "createdAt": _ts(generation.created_at),
        "updatedAt": _ts(generation.updated_at),
        "userId": generation.account_id,
        "public": generation.public,
        "flagged": False,
        "nsfw": False,
        "status": generation.status,
        "coreModel": "SD",
        "guidanceScale": generation.guidance_scale,
        "imageHeight": generation.height,
        "imageWidth": generation.width,
        "inferenceSteps": generation.steps,
        "initGeneratedImageId": init_generated_image_id,
        "initImageId": init_image_id,
        "initStrength": getattr(generation, "init_strength", None),
        "initType": "GENERATED" if init_generated_image_id else "UPLOADED" if init_image_id else None,
        "modelId": generation.model_id,
        "negativePrompt": generation.negative_prompt or "",
        "prompt": generation.prompt,
        "quantity": generation.num_images,
        "sdVersion": entry.sd_version if entry else None,
        "tiling": generation.tiling,
        "seed": str(generation.seed),
        "scheduler": generation.scheduler,
        "presetStyle": generation.preset_style,
        "promptMagic": bool(flags.get("promptMagic", False)),
        "canvasInitImageId": None,
        "canvasMaskImageId": getattr(generation, "mask_image_id", None),
        "canvasRequest": bool(getattr(generation, "canvas_type", None)),
        "api": True,
        "highContrast": bool(flags.get("highContrast", False)),
        "alchemy": bool(flags.get("alchemy", False)),
        "photoReal": bool(flags.get("photoReal", False)),
        "imageToImage": bool(init_image_id or init_generated_image_id),
        "controlnetsUsed": False,
        "apiDollarCost": "0",
        "apiCreditCost": generation.credit_cost,
        "failureReason": generation.failure_reason,
        "apiKeyId": generation.api_key_id,
        "model": {
            "id": generation.model_id,
            "name": entry.name if entry else generation.model_key,
            "description": entry.description if entry else "",
            "sdVersion": entry.sd_version if entry else None,
            "type": "PLATFORM",
            "modelHeight": entry.default_height if entry else None,
            "modelWidth": entry.default_width if entry else None,
        },
        "images": [
            {
                "id": image.id,
                "createdAt": _ts(image.created_at),
                "updatedAt": _ts(image.created_at),
                "userId": generation.account_id,
                "url": blobs.url(image.blob_key),
                "generationId": generation.id,
                "nobgId": None,
                "nsfw": image.nsfw,
                "likeCount": 0,
                "public": generation.public,
                "seed": str(image.seed),
            }
            for image in generation.images
        ],
        "apiKey": {
            "id": key.id if key else generation.api_key_id,
            "name": key.name if key else None,
            "type": "PRODUCTION",
            "webhookCallbackUrl": key.webhook_url if key else None,
        },
    }


def _job_object(job: Job | None, delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.subject_id or delivery.job_id,
        "jobId": delivery.job_id,
        "kind": delivery.job_kind,
        "status": "COMPLETE" if delivery.event_type.endswith(".complete") else "FAILED",
        "failureReason": job.error if job is not None else None,
        "userId": delivery.account_id,
        "apiKeyId": delivery.api_key_id,
    }


def render(session: Session, delivery: WebhookDelivery, blobs: BlobStore, catalog: Catalog) -> str:
    """The event's JSON body, from the rows as they are now."""
    generation = session.get(Generation, delivery.subject_id) if delivery.subject_id else None
    key = session.get(ApiKey, delivery.api_key_id)
    if generation is not None:
        kind, obj = "generation", _generation_object(generation, key, blobs, catalog)
    else:
        job = session.get(Job, delivery.job_id) if delivery.job_id else None
        kind, obj = "job", _job_object(job, delivery)
    envelope = {
        "type": delivery.event_type,
        "object": kind,
        "timestamp": int(delivery.created_at.replace(tzinfo=UTC).timestamp() * 1000),
        "api_version": "v1",
        "data": {"object": obj},
    }
    return json.dumps(envelope, separators=(",", ":"))
