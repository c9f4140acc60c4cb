"""Custom models through the official SDK: train on a dataset, read, list, generate with, delete."""

from __future__ import annotations

import io

import numpy as np
import pytest
from leonardo_ai_sdk.models import errors, operations, shared
from PIL import Image

from sfumato.store.models import new_id
from tests.api.conftest import Api
from tests.api.sdk import sdk_for
from tests.api.uploading import fetch, png
from tests.training.datasets import create_dataset, upload_image
from tests.training.waiting import wait_trained

COLOURS = [(220, 30, 30), (30, 200, 40), (20, 40, 210), (230, 220, 30)]


def colour_dataset(api: Api, key: str | None = None) -> str:
    sdk = sdk_for(api, key)
    dataset_id = create_dataset(sdk)
    for colour in COLOURS:
        upload_image(api, sdk, dataset_id, png(color=colour))
    return dataset_id


def _balance(api: Api, key: str | None = None) -> int:
    return int(api.get("/me", key=key).json()["user_details"][0]["apiSubscriptionTokens"])


def _pixels(api: Api, generation_id: str, key: str | None = None) -> np.ndarray:
    generation = api.wait(generation_id, key=key)
    assert generation["status"] == "COMPLETE", generation
    data = fetch(api, generation["generated_images"][0]["url"]).content
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_train_a_custom_model_and_generate_with_it(trainer: Api) -> None:
    api = trainer
    sdk = sdk_for(api)
    dataset_id = colour_dataset(api)
    before = _balance(api)
    created = sdk.models.create_model(
        request=operations.CreateModelRequestBody(
            name="colours",
            dataset_id=dataset_id,
            instance_prompt="a photo of sks colours",
            resolution=64,
            sd_version=operations.CreateModelSdVersions.V1_5,
        )
    ).object
    assert created is not None and created.sd_training_job is not None
    job = created.sd_training_job
    model_id = job.custom_model_id
    assert model_id and job.api_credit_cost
    quote = api.post(
        "/pricing-calculator",
        json={"service": "MODEL_TRAINING", "serviceParams": {"MODEL_TRAINING": {"resolution": 512}}},
    ).json()["calculateProductionApiServiceCost"]["cost"]
    assert job.api_credit_cost == quote  # a 64 px training is priced as Leonardo's smallest, 512
    assert _balance(api) == before - quote

    row = wait_trained(api, f"/models/{model_id}", "custom_models_by_pk")
    assert row["status"] == "COMPLETE", row
    got = sdk.models.get_model_by_id(id=model_id).object
    assert got is not None and got.custom_models_by_pk is not None
    assert got.custom_models_by_pk.status == shared.JobStatus.COMPLETE
    assert got.custom_models_by_pk.instance_prompt == "a photo of sks colours"
    lineage = row["lineage"]
    assert len(lineage["dataset_version"]) == 4 and lineage["weights_hash"] and lineage["lora_sha256"]
    assert len(lineage["losses"]) == lineage["steps"] == 12
    assert [image["prompt"] for image in row["evaluation"]] == ["{instance}", "{instance} at night"]
    assert all(fetch(api, image["url"]).status_code == 200 for image in row["evaluation"])

    listed = sdk.models.get_custom_models_by_user_id(user_id=api.user_id).object
    assert listed is not None and [m.id for m in listed.custom_models or []] == [model_id]

    base = _pixels(api, api.generate(modelId="tiny-sd15", seed=11))
    custom = _pixels(api, api.generate(modelId=model_id, seed=11))
    assert np.abs(base.astype(int) - custom.astype(int)).max() > 0
    generation = api.get(f"/generations/{api.generate(modelId=model_id, seed=12)}").json()[
        "generations_by_pk"
    ]
    assert generation["modelId"] == model_id

    deleted = sdk.models.delete_model_by_id(id=model_id).object
    assert deleted is not None and deleted.delete_custom_models_by_pk is not None
    assert api.get(f"/models/{model_id}").status_code == 404
    gone = api.post("/generations", json={"modelId": model_id, "prompt": "x", "width": 64, "height": 64})
    assert gone.status_code == 400 and "Unknown modelId" in gone.json()["error"]


def test_another_account_cannot_see_or_use_a_custom_model(trainer: Api) -> None:
    api = trainer
    dataset_id = colour_dataset(api)
    model_id = api.post(
        "/models", json={"name": "mine", "datasetId": dataset_id, "instance_prompt": "sks", "resolution": 64}
    ).json()["sdTrainingJob"]["customModelId"]
    wait_trained(api, f"/models/{model_id}", "custom_models_by_pk")
    other_key, _ = api.new_key("mallory")
    other = sdk_for(api, other_key)
    for call in (
        lambda: other.models.get_model_by_id(id=model_id),
        lambda: other.models.delete_model_by_id(id=model_id),
    ):
        with pytest.raises(errors.SDKError) as raised:
            call()
        assert raised.value.status_code == 404
    before = _balance(api, other_key)
    used = api.post(
        "/generations", json={"modelId": model_id, "prompt": "x", "width": 64, "height": 64}, key=other_key
    )
    unknown = api.post(
        "/generations", json={"modelId": new_id(), "prompt": "x", "width": 64, "height": 64}, key=other_key
    )
    # Another account's model is exactly as unknown as a model that does not exist.
    assert (
        (used.status_code, used.json()["code"])
        == (unknown.status_code, unknown.json()["code"])
        == (400, "invalid-request")
    )
    stolen = api.post(
        "/models", json={"name": "x", "datasetId": dataset_id, "instance_prompt": "sks", "resolution": 64},
        key=other_key,
    )  # fmt: skip
    assert stolen.status_code == 404  # alice's dataset is not mallory's to train on
    assert _balance(api, other_key) == before
    listed = other.models.get_custom_models_by_user_id(user_id=api.user_id).object
    assert listed is not None and not listed.custom_models
    assert api.get(f"/models/{model_id}").status_code == 200


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"resolution": 60}, 400),
        ({"resolution": 2048}, 400),
        ({"strength": "EXTREME"}, 400),
        ({"sd_version": "v2"}, 400),  # the catalog's v2 model has no weights here
        ({"datasetId": "no-such-dataset"}, 404),
        ({"name": " "}, 400),
        ({"empty": True}, 400),
    ],
)
def test_bad_requests_are_4xx_and_charge_nothing(
    trainer: Api, change: dict[str, object], status: int
) -> None:
    api = trainer
    change = dict(change)  # the parameters are shared by both databases' runs
    dataset_id = create_dataset(sdk_for(api)) if change.pop("empty", False) else colour_dataset(api)
    body = {"name": "m", "datasetId": dataset_id, "instance_prompt": "sks", "resolution": 64, **change}
    before = _balance(api)
    response = api.post("/models", json=body)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error", "path", "code"}
    assert _balance(api) == before
    assert api.get(f"/models/user/{api.user_id}").json()["custom_models"] == []


def test_too_few_credits_is_402(trainer: Api) -> None:
    api = trainer
    key, _ = api.new_key("pauper", credits=1)
    dataset_id = colour_dataset(api, key)
    response = api.post(
        "/models",
        json={"name": "m", "datasetId": dataset_id, "instance_prompt": "sks", "resolution": 64},
        key=key,
    )
    assert response.status_code == 402 and _balance(api, key) == 1


def test_two_accounts_models_in_one_worker_never_mix(trainer: Api) -> None:
    """Jobs of two accounts' models and of the base model, queued together with batching on:
    each image is what its own model draws alone (within one uint8 level, the batching bound)."""
    api = trainer
    api.ctx.settings.dedupe_window_seconds = 0  # the same seeded request runs again, not answered from before
    bob_key, _ = api.new_key("bob")
    models = {}
    for name, key in (("alice", None), ("bob", bob_key)):
        body = {
            "name": name,
            "datasetId": colour_dataset(api, key),
            "instance_prompt": f"{name} sks",
            "resolution": 64,
        }
        models[name] = api.post("/models", json=body, key=key).json()["sdTrainingJob"]["customModelId"]
    for name, key in (("alice", None), ("bob", bob_key)):
        wait_trained(api, f"/models/{models[name]}", "custom_models_by_pk", key=key)
    runs = [("alice", None, models["alice"]), ("bob", bob_key, models["bob"]), ("base", None, "tiny-sd15")]
    alone = {
        name: _pixels(api, api.generate(key=key, modelId=model, seed=31), key=key)
        for name, key, model in runs
    }
    assert not (alone["alice"] == alone["bob"]).all() and not (alone["alice"] == alone["base"]).all()
    together = [
        (name, key, api.generate(key=key, modelId=model, seed=31))
        for _ in range(3)
        for name, key, model in runs
    ]
    assert len({generation_id for _, _, generation_id in together}) == len(together)
    for name, key, generation_id in together:
        pixels = _pixels(api, generation_id, key=key)
        assert np.abs(pixels.astype(int) - alone[name].astype(int)).max() <= 1, name
    shas = {
        name: api.get(f"/models/{models[name]}", key=key).json()["custom_models_by_pk"]["lineage"][
            "lora_sha256"
        ]
        for name, key in (("alice", None), ("bob", bob_key))
    }
    for name, key, generation_id in together:
        lineage = api.get(f"/generations/{generation_id}", key=key).json()["generations_by_pk"]["lineage"]
        # The adapter set each job ran with, as its lineage records it: its own model's LoRA only.
        assert lineage.get("adapters", "") == (f"{shas[name]}:1.0" if name in shas else ""), name


def test_deleting_a_training_model_stops_its_run(trainer: Api) -> None:
    import time

    from sqlalchemy import select

    from sfumato.store.models import Job

    api = trainer
    api.ctx.settings.training_max_steps = 100_000  # far longer than the test waits
    dataset_id = colour_dataset(api)
    before = _balance(api)
    body = {
        "name": "long",
        "datasetId": dataset_id,
        "instance_prompt": "sks",
        "resolution": 64,
        "strength": "HIGH",
    }
    model_id = api.post("/models", json=body).json()["sdTrainingJob"]["customModelId"]
    deadline = time.monotonic() + 60
    while "progress" not in (row := api.get(f"/models/{model_id}").json()["custom_models_by_pk"]):
        assert time.monotonic() < deadline, row
        time.sleep(0.05)
    assert api.delete(f"/models/{model_id}").status_code == 200
    while True:
        with api.ctx.db.read() as session:
            job = session.scalars(select(Job).where(Job.subject_id == model_id)).one()
            state, error = job.state, job.error
        if state != "running":
            break
        assert time.monotonic() < deadline + 30, "the training did not stop"
        time.sleep(0.1)
    assert state == "failed" and "stopped at step" in (error or "")
    assert _balance(api) == before  # refunded
    assert not api.ctx.blobs.exists(f"trainings/{model_id}/cancelled")


def test_an_instance_prompt_under_the_content_policy_is_refused_uncharged(trainer: Api) -> None:
    api = trainer
    api.ctx.settings.resolved_policy_file.write_text('[categories.brand]\nterms = ["acme"]\n', "utf-8")
    dataset_id = colour_dataset(api)
    before = _balance(api)
    body = {"name": "m", "datasetId": dataset_id, "instance_prompt": "an ACME anvil", "resolution": 64}
    response = api.post("/models", json=body)
    assert response.status_code == 400 and response.json()["code"] == "content-policy", response.text
    assert _balance(api) == before
    assert api.get(f"/models/user/{api.user_id}").json()["custom_models"] == []


def test_a_dataset_picture_the_safety_check_flags_is_refused_when_the_operator_asks(trainer: Api) -> None:
    api = trainer
    dataset_id = colour_dataset(api)
    settings = api.ctx.settings
    settings.safety_model, settings.safety_threshold, settings.safety_check_uploads = "tiny-safety", 0.0, True
    before = _balance(api)
    body = {"name": "m", "datasetId": dataset_id, "instance_prompt": "sks", "resolution": 64}
    response = api.post("/models", json=body)
    assert response.status_code == 400 and response.json()["code"] == "content-policy", response.text
    assert _balance(api) == before
    settings.safety_threshold = 1.0  # nothing flagged: the same pictures train
    assert api.post("/models", json=body).status_code == 200
