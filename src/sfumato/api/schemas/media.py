"""``/media`` request and response shapes (the npm SDK's Media resource)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from sfumato.api.schemas.common import WireModel, compact, timestamp
from sfumato.service.media import MediaTicket, MediaView

MEDIA_TYPES = {"image": "IMAGE", "video": "VIDEO"}
STATUSES = {"awaiting_upload": "PENDING", "ready": "COMPLETE"}


class UploadMediaBody(WireModel):
    extension: str = Field(max_length=16)


def upload_media(ticket: MediaTicket) -> dict[str, Any]:
    # ``fields`` travels as a JSON string, as for init images.
    fields = json.dumps(ticket.fields)
    return {"uploadMedia": {"uploadId": ticket.media_id, "url": ticket.url, "fields": fields}}


def media_object(view: MediaView) -> dict[str, Any]:
    return compact(
        {
            "id": view.id,
            "createdAt": timestamp(view.created_at),
            "mediaType": MEDIA_TYPES[view.media_type],
            "status": STATUSES[view.status],
            "statusReason": view.status_reason,
            "url": view.url,
            "thumbnailUrl": view.thumbnail_url,
            "width": view.width,
            "height": view.height,
            "duration": view.duration_seconds,
            "video_fps": view.fps,
        }
    )
