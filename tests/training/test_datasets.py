"""Datasets through the official SDK: create, fill by upload or from a generation, read, delete."""

from __future__ import annotations

import json

import pytest
from leonardo_ai_sdk.models import errors, operations

from tests.api.conftest import Api
from tests.api.sdk import sdk_for
from tests.api.uploading import fetch, noise_png, post_form
from tests.training.datasets import create_dataset, upload_image


def test_dataset_round_trip(backend_api: Api) -> None:
    api = backend_api
    sdk = sdk_for(api)
    dataset_id = create_dataset(sdk, "my foxes")
    data = noise_png(seed=3)
    image_id = upload_image(api, sdk, dataset_id, data)

    generation = api.wait(api.generate(seed=7))
    from_gen = sdk.dataset.upload_dataset_image_from_gen(
        dataset_id=dataset_id,
        request_body=operations.UploadDatasetImageFromGenRequestBody(
            generated_image_id=generation["generated_images"][0]["id"]
        ),
    )
    assert from_gen.object is not None and from_gen.object.upload_dataset_image_from_gen is not None
    gen_image_id = from_gen.object.upload_dataset_image_from_gen.id

    got = sdk.dataset.get_dataset_by_id(id=dataset_id).object
    assert got is not None and got.datasets_by_pk is not None
    dataset = got.datasets_by_pk
    assert dataset.name == "my foxes" and dataset.created_at
    assert dataset.dataset_images is not None
    by_id = {image.id: image for image in dataset.dataset_images}
    assert set(by_id) == {image_id, gen_image_id}
    assert fetch(api, by_id[image_id].url).content == data
    generated_png = fetch(api, generation["generated_images"][0]["url"]).content
    assert fetch(api, by_id[gen_image_id].url).content == generated_png

    keys = [row.blob_key for row in _rows(api, dataset_id)]
    deleted = sdk.dataset.delete_dataset_by_id(id=dataset_id).object
    assert deleted is not None and deleted.delete_datasets_by_pk is not None
    assert deleted.delete_datasets_by_pk.id == dataset_id
    assert not any(api.ctx.blobs.exists(key) for key in keys)
    assert api.get(f"/datasets/{dataset_id}").status_code == 404


def _rows(api: Api, dataset_id: str) -> list:  # type: ignore[type-arg]
    from sfumato.store import datasets

    with api.ctx.db.read() as session:
        rows = datasets.images(session, dataset_id)
        session.expunge_all()
        return rows


def test_another_account_sees_no_dataset(api: Api) -> None:
    sdk = sdk_for(api)
    dataset_id = create_dataset(sdk)
    upload_image(api, sdk, dataset_id, noise_png())
    other_key, _ = api.new_key("mallory")
    other = sdk_for(api, other_key)
    for call in (
        lambda: other.dataset.get_dataset_by_id(id=dataset_id),
        lambda: other.dataset.delete_dataset_by_id(id=dataset_id),
        lambda: other.dataset.upload_dataset_image(
            dataset_id=dataset_id, request_body=operations.UploadDatasetImageRequestBody(extension="png")
        ),
    ):
        with pytest.raises(errors.SDKError) as raised:
            call()
        assert raised.value.status_code == 404
    generation = api.wait(api.generate())
    mine = create_dataset(other)
    stolen = api.post(
        f"/datasets/{mine}/upload/gen",
        json={"generatedImageId": generation["generated_images"][0]["id"]},
        key=other_key,
    )
    assert stolen.status_code == 404  # alice's picture is not mallory's to copy
    assert api.get(f"/datasets/{dataset_id}").status_code == 200


def test_limits_are_400s(api: Api) -> None:
    api.ctx.settings.dataset_max_images = 2
    sdk = sdk_for(api)
    dataset_id = create_dataset(sdk)
    assert api.post(f"/datasets/{dataset_id}/upload", json={"extension": "gif"}).status_code == 400
    assert api.post("/datasets", json={"name": "  "}).status_code == 400
    assert api.post("/datasets", json={}).status_code == 400
    for seed in range(2):
        upload_image(api, sdk, dataset_id, noise_png(seed=seed))
    full = api.post(f"/datasets/{dataset_id}/upload", json={"extension": "png"})
    assert full.status_code == 400 and full.json()["code"] == "limit-exceeded"


def test_an_upload_that_is_no_picture_is_refused(api: Api) -> None:
    dataset_id = create_dataset(sdk_for(api))
    ticket = api.post(f"/datasets/{dataset_id}/upload", json={"extension": "png"}).json()[
        "uploadDatasetImage"
    ]
    refused = post_form(api, ticket["url"], json.loads(ticket["fields"]), b"not a picture at all")
    assert refused.status_code == 400
    assert not api.ctx.blobs.exists(ticket["key"])


def test_pictures_over_the_pixel_limit_are_refused_at_upload_and_at_training(api: Api) -> None:
    sdk = sdk_for(api)
    dataset_id = create_dataset(sdk)
    upload_image(api, sdk, dataset_id, noise_png(size=(64, 64)))
    api.ctx.settings.upload_max_pixels = 1000
    ticket = api.post(f"/datasets/{dataset_id}/upload", json={"extension": "png"}).json()[
        "uploadDatasetImage"
    ]
    refused = post_form(api, ticket["url"], json.loads(ticket["fields"]), noise_png(size=(64, 64)))
    assert refused.status_code == 400 and "pixels" in refused.json()["error"]
    # The picture already in the dataset is checked again when a training reads it.
    from sfumato.errors import InvalidRequest
    from sfumato.service.datasets import training_images
    from sfumato.service.keys import authenticate

    principal = authenticate(api.ctx, f"Bearer {api.key}")
    with pytest.raises(InvalidRequest, match="pixels"):
        training_images(api.ctx, principal, dataset_id, field="datasetId")
