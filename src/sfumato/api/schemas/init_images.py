"""``/init-image`` and ``/canvas-init-image`` request and response shapes."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from sfumato.api.schemas.common import WireModel, compact, timestamp
from sfumato.service.uploads import InitImageView, UploadTicket


class UploadInitImageBody(WireModel):
    extension: str = Field(max_length=16)


class UploadCanvasInitImageBody(WireModel):
    init_extension: str = Field(alias="initExtension", max_length=16)
    mask_extension: str = Field(alias="maskExtension", max_length=16)


def upload_init_image(ticket: UploadTicket) -> dict[str, Any]:
    # ``fields`` travels as a JSON string, exactly as Leonardo sends S3's form fields.
    return {
        "uploadInitImage": {
            "id": ticket.image_id,
            "url": ticket.url,
            "fields": json.dumps(ticket.fields),
            "key": ticket.key,
        }
    }


def upload_canvas_init_image(init: UploadTicket, mask: UploadTicket) -> dict[str, Any]:
    return {
        "uploadCanvasInitImage": {
            "initImageId": init.image_id,
            "initUrl": init.url,
            "initFields": json.dumps(init.fields),
            "initKey": init.key,
            "maskImageId": mask.image_id,
            "maskUrl": mask.url,
            "maskFields": json.dumps(mask.fields),
            "maskKey": mask.key,
        }
    }


def init_image_object(view: InitImageView) -> dict[str, Any]:
    return compact({"id": view.id, "createdAt": timestamp(view.created_at), "url": view.url})
