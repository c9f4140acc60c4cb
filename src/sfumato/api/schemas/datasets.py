"""``/datasets`` request and response shapes."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from sfumato.api.schemas.common import WireModel, compact, timestamp
from sfumato.service.datasets import DatasetView
from sfumato.service.uploads import UploadTicket


class CreateDatasetBody(WireModel):
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)


class UploadDatasetImageBody(WireModel):
    extension: str = Field(max_length=16)


class UploadDatasetImageFromGenBody(WireModel):
    generated_image_id: str = Field(alias="generatedImageId", max_length=64)


def upload_dataset_image(ticket: UploadTicket) -> dict[str, Any]:
    return {
        "uploadDatasetImage": {
            "id": ticket.image_id,
            "url": ticket.url,
            "fields": json.dumps(ticket.fields),
            "key": ticket.key,
        }
    }


def dataset_object(view: DatasetView) -> dict[str, Any]:
    return compact(
        {
            "id": view.id,
            "name": view.name,
            "description": view.description,
            "createdAt": timestamp(view.created_at),
            "updatedAt": timestamp(view.updated_at),
            "dataset_images": [
                compact({"id": image.id, "createdAt": timestamp(image.created_at), "url": image.url})
                for image in view.images
            ],
        }
    )
