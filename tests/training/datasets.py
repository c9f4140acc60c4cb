"""Filling a dataset the way a client does: the official SDK's calls, then the file POSTed to the form."""

from __future__ import annotations

import json

from leonardo_ai_sdk import LeonardoAiSDK
from leonardo_ai_sdk.models import operations

from tests.api.conftest import Api
from tests.api.uploading import noise_png, post_form


def create_dataset(sdk: LeonardoAiSDK, name: str = "foxes") -> str:
    created = sdk.dataset.create_dataset(request=operations.CreateDatasetRequestBody(name=name))
    assert created.object is not None and created.object.insert_datasets_one is not None
    dataset_id = created.object.insert_datasets_one.id
    assert dataset_id
    return dataset_id


def upload_image(api: Api, sdk: LeonardoAiSDK, dataset_id: str, data: bytes, extension: str = "png") -> str:
    response = sdk.dataset.upload_dataset_image(
        dataset_id=dataset_id, request_body=operations.UploadDatasetImageRequestBody(extension=extension)
    )
    assert response.object is not None and response.object.upload_dataset_image is not None
    ticket = response.object.upload_dataset_image
    assert ticket.url and ticket.fields and ticket.id
    posted = post_form(api, ticket.url, json.loads(ticket.fields), data)
    assert posted.status_code in (200, 201, 204), posted.text
    return ticket.id


def filled_dataset(api: Api, sdk: LeonardoAiSDK, count: int = 4) -> str:
    """A dataset of ``count`` different noise pictures."""
    dataset_id = create_dataset(sdk)
    for seed in range(count):
        upload_image(api, sdk, dataset_id, noise_png(seed=seed))
    return dataset_id
