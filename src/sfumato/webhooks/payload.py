"""The body of a webhook event: Leonardo's documented envelope around the API's own rendering.

``{"type", "object", "timestamp" (epoch ms), "api_version": "v1", "data": {"object": …}}``.
``data.object`` is built from the same service view and the same wire function as
``GET /generations/{id}`` (or ``GET /variations/{id}``), so the two never disagree; the
event adds only the fields Leonardo documents for webhooks alone (``userId``, ``quantity``,
``images``, ``model``, ``apiKey`` …, and ``seed`` as a string). It is rendered once, on the
first delivery attempt, and stored: retries send the same bytes.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from sqlalchemy.orm import Session

from sfumato.api.schemas.common import timestamp
from sfumato.api.schemas.models_3d import texture_object
from sfumato.api.schemas.training import custom_model_object, element_object
from sfumato.api.schemas.views import generation_object, motion_variation_object, variation_object
from sfumato.blobs import BlobStore
from sfumato.engine.catalog import Catalog
from sfumato.service.generation_views import generation_view
from sfumato.service.textures import texture_view
from sfumato.service.training import training_view
from sfumato.service.variation_views import variation_view
from sfumato.service.views import GenerationView
from sfumato.store import model_assets, trained_loras
from sfumato.store.models import ApiKey, Generation, Job, Variation, WebhookDelivery
from sfumato.store.training_tables import MODEL

# Documented generation columns the API leaves out when empty; the event carries them as null.
_NULLABLE = (
    "initGeneratedImageId", "initImageId", "initStrength", "presetStyle", "sdVersion",
    "canvasInitImageId", "canvasMaskImageId", "failureReason",
)  # fmt: skip


def generation_event_object(view: GenerationView, key: ApiKey | None, catalog: Catalog) -> dict[str, Any]:
    """The webhook's generation: the API's object, plus the event's own documented fields."""
    entry = catalog.resolve(view.model_key)
    source = view.source
    init_type = None
    if source is not None:
        init_type = "GENERATED" if source.init_generated_image_id else "UPLOADED"
    return {
        **dict.fromkeys(_NULLABLE),
        "imageToImage": False,
        "canvasRequest": False,
        **generation_object(view),
        "updatedAt": timestamp(view.updated_at),
        "userId": view.user_id,
        "flagged": False,
        "nsfw": any(image.nsfw for image in view.images),
        "coreModel": "SD",
        "initType": init_type,
        "quantity": view.num_images,
        "seed": str(view.seed),  # a string in Leonardo's event, a number in its GET
        "api": True,
        "highContrast": bool(view.flags.get("highContrast", False)),
        "alchemy": bool(view.flags.get("alchemy", False)),
        "controlnetsUsed": False,
        "apiDollarCost": "0",
        "apiKeyId": view.api_key_id,
        "model": {
            "id": view.model_id,
            "name": entry.name if entry else view.model_key,
            "description": entry.description if entry else "",
            "sdVersion": view.sd_version,
            "type": "PLATFORM",
            "modelHeight": entry.default_height if entry else None,
            "modelWidth": entry.default_width if entry else None,
        },
        "images": [
            {
                "id": image.id,
                "createdAt": timestamp(view.updated_at),
                "updatedAt": timestamp(view.updated_at),
                "userId": view.user_id,
                "url": image.url,
                "generationId": view.id,
                "nobgId": None,
                "nsfw": image.nsfw,
                "likeCount": image.like_count,
                "public": view.public,
                "seed": str(image.seed),
            }
            for image in view.images
        ],
        "apiKey": {
            "id": key.id if key else view.api_key_id,
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


def _subject(
    session: Session, delivery: WebhookDelivery, blobs: BlobStore, catalog: Catalog
) -> tuple[str, dict[str, Any]]:
    """What the event is about, rendered as the API renders it; a bare job when nothing else."""
    subject_id = delivery.subject_id
    generation = session.get(Generation, subject_id) if subject_id else None
    if generation is not None:
        key = session.get(ApiKey, delivery.api_key_id)
        view = generation_view(generation, catalog=catalog, blobs=blobs)
        return "generation", generation_event_object(view, key, catalog)
    variation = session.get(Variation, subject_id) if subject_id else None
    if variation is not None:
        ids = {"userId": variation.account_id, "apiKeyId": delivery.api_key_id, "jobId": delivery.job_id}
        seen = variation_view(variation, blobs)
        motion = variation.transform == "MOTION_UPSCALE"
        rendered = motion_variation_object(seen) if motion else variation_object(seen)
        return "variation", {**rendered, **ids}
    lora = trained_loras.by_uuid(session, subject_id) if subject_id else None
    if lora is not None:
        ids = {"userId": lora.account_id, "apiKeyId": delivery.api_key_id, "jobId": delivery.job_id}
        if lora.purpose == MODEL:
            return "custom_model", {**custom_model_object(training_view(lora, blobs)), **ids}
        return "element", {**element_object(training_view(lora, blobs)), **ids}
    texture = model_assets.texture(session, subject_id) if subject_id else None
    if texture is not None:
        ids = {"userId": texture.account_id, "apiKeyId": delivery.api_key_id, "jobId": delivery.job_id}
        return "texture_generation", {**texture_object(texture_view(texture, blobs)), **ids}
    job = session.get(Job, delivery.job_id) if delivery.job_id else None
    return "job", _job_object(job, delivery)


def render(session: Session, delivery: WebhookDelivery, blobs: BlobStore, catalog: Catalog) -> str:
    """The event's JSON body, from the rows as they are now."""
    kind, obj = _subject(session, delivery, blobs, catalog)
    envelope = {
        "type": delivery.event_type,
        "object": kind,
        "timestamp": int(delivery.created_at.replace(tzinfo=UTC).timestamp() * 1000),
        "api_version": "v1",
        "data": {"object": obj},
    }
    return json.dumps(envelope, separators=(",", ":"))
