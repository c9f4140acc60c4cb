"""Elements through the official SDK: train, read, list, apply several at once with weights, delete."""

from __future__ import annotations

from pathlib import Path

import pytest
from leonardo_ai_sdk.models import errors, operations, shared

from sfumato.engine import Engine
from sfumato.engine.train_lora import train
from tests.api.conftest import Api
from tests.api.sdk import sdk_for
from tests.engine.test_train_lora import MemoryCheckpoints, spec
from tests.training.test_custom_models import _balance, _pixels, colour_dataset
from tests.training.waiting import wait_trained


def train_element(
    api: Api,
    name: str,
    key: str | None = None,
    learning_rate: float = 0.03,
    sd_version: operations.SdVersions | None = None,
) -> int:
    sdk = sdk_for(api, key)
    version = {"sd_version": sd_version} if sd_version else {}
    created = sdk.elements.create_element(
        request=operations.CreateElementRequestBody(
            **version,
            learning_rate=learning_rate,
            lora_focus="Object" if sd_version == operations.SdVersions.FLUX_DEV else "General",
            num_train_epochs=2,
            dataset_id=colour_dataset(api, key),
            instance_prompt="sks colours",
            name=name,
            resolution=64,
            train_text_encoder=True,
        )
    ).object
    assert created is not None and created.sd_training_job is not None
    element_id = created.sd_training_job.user_lora_id
    assert isinstance(element_id, int) and created.sd_training_job.api_credit_cost
    row = wait_trained(api, f"/elements/{element_id}", "user_loras_by_pk", key=key)
    assert row["status"] == "COMPLETE", row
    return element_id


def test_elements_change_pixels_by_their_weights(trainer: Api) -> None:
    api = trainer
    sdk = sdk_for(api)
    first = train_element(api, "first")
    second = train_element(api, "second", learning_rate=0.05)

    got = sdk.elements.get_element_by_id(id=first).object
    assert got is not None and got.user_loras_by_pk is not None
    element = got.user_loras_by_pk
    assert element.status == shared.JobStatus.COMPLETE and element.name == "first"
    assert element.training_epoch == 2 and element.train_text_encoder is True and element.resolution == 64
    mine = sdk.elements.get_custom_elements_by_user_id(user_id=api.user_id).object
    assert mine is not None and {e.id for e in mine.user_loras or []} == {first, second}
    listed = sdk.elements.list_elements().object
    assert listed is not None
    ak_uuids = {lora.name: lora.ak_uuid for lora in listed.loras or []}
    assert set(ak_uuids) >= {"first", "second"}

    base = _pixels(api, api.generate(seed=21))
    one = _pixels(api, api.generate(seed=21, userElements=[{"userLoraId": first, "weight": 1.0}]))
    zero = _pixels(api, api.generate(seed=21, userElements=[{"userLoraId": first, "weight": 0}]))
    half = _pixels(api, api.generate(seed=21, userElements=[{"userLoraId": first, "weight": 0.5}]))
    both = _pixels(
        api,
        api.generate(
            seed=21,
            userElements=[{"userLoraId": first, "weight": 1.0}],
            elements=[{"akUUID": ak_uuids["second"], "weight": 0.8}],
        ),
    )
    assert (zero == base).all()  # weight 0: exactly the pixels without the element
    assert not (one == base).all() and not (half == one).all() and not (half == base).all()
    assert not (both == one).all()

    deleted = sdk.elements.delete_element_by_id(id=first).object
    assert deleted is not None and deleted.delete_user_loras_by_pk is not None
    assert deleted.delete_user_loras_by_pk.id == first
    assert api.get(f"/elements/{first}").status_code == 404
    after = api.post("/generations", json={"prompt": "x", "modelId": "tiny-sd15", "width": 64, "height": 64,
                                           "userElements": [{"userLoraId": first, "weight": 1}]})  # fmt: skip
    assert after.status_code == 404


def test_elements_train_on_flux_and_sdxl_and_steer_only_their_own_family(family_trainer: Api) -> None:
    """FLUX.1 [dev] learns by flow matching, SDXL through its added conditions; each element
    changes its own family's pixels, and another family refuses it."""
    api = family_trainer
    for version, model, generation in (
        (operations.SdVersions.FLUX_DEV, "tiny-flux-dev", {"guidance_scale": 3.5}),
        (operations.SdVersions.SDXL_1_0, "tiny-sdxl", {}),
    ):
        before = _balance(api)
        element = train_element(api, f"on {model}", sd_version=version)
        flux = {"sd_version": "FLUX_DEV"} if version == operations.SdVersions.FLUX_DEV else {}
        params = {"resolution": 64, "datasetImageCount": 4, **flux}
        body = {"service": "MODEL_TRAINING", "serviceParams": {"MODEL_TRAINING": params}}
        quote = api.post("/pricing-calculator", json=body)
        charged = before - _balance(api)  # FLUX.1 [dev] per picture, SDXL by resolution: as quoted
        assert charged == quote.json()["calculateProductionApiServiceCost"]["cost"], (version, charged)
        row = api.get(f"/elements/{element}").json()["user_loras_by_pk"]
        assert row["baseModel"] == version.value, row
        body = {"modelId": model, "num_inference_steps": 4, "seed": 8, **generation}
        base = _pixels(api, api.generate(**body))
        steered = _pixels(api, api.generate(**body, userElements=[{"userLoraId": element, "weight": 1}]))
        zero = _pixels(api, api.generate(**body, userElements=[{"userLoraId": element, "weight": 0}]))
        assert not (steered == base).all() and (zero == base).all()
        other = {"prompt": "x", "modelId": "tiny-sd15", "width": 64, "height": 64}
        elsewhere = api.post("/generations", json={**other, "userElements": [{"userLoraId": element}]})
        assert elsewhere.status_code == 400 and model in elsewhere.text
    before = _balance(api)
    odd = {"learning_rate": 0.01, "lora_focus": "Object", "num_train_epochs": 1, "resolution": 72,
           "datasetId": colour_dataset(api), "sd_version": "FLUX_DEV"}  # fmt: skip
    refused = api.post("/elements", json=odd)
    assert refused.status_code == 400 and "multiple of 16" in refused.text
    assert _balance(api) == before


def test_another_accounts_element_is_404_everywhere(trainer: Api) -> None:
    api = trainer
    element_id = train_element(api, "mine")
    ak_uuid = api.get(f"/elements/{element_id}").json()["user_loras_by_pk"]["akUUID"]
    other_key, _ = api.new_key("mallory")
    other = sdk_for(api, other_key)
    for call in (
        lambda: other.elements.get_element_by_id(id=element_id),
        lambda: other.elements.delete_element_by_id(id=element_id),
    ):
        with pytest.raises(errors.SDKError) as raised:
            call()
        assert raised.value.status_code == 404
    before = _balance(api, other_key)
    body = {"prompt": "x", "modelId": "tiny-sd15", "width": 64, "height": 64}
    for use in ({"userElements": [{"userLoraId": element_id}]}, {"elements": [{"akUUID": ak_uuid}]}):
        response = api.post("/generations", json={**body, **use}, key=other_key)
        assert response.status_code == 404, response.text
    assert _balance(api, other_key) == before
    listed = other.elements.list_elements().object
    assert listed is not None and not listed.loras
    assert api.get(f"/elements/{element_id}").status_code == 200


def test_element_failure_paths_are_4xx(trainer: Api) -> None:
    api = trainer
    dataset_id = colour_dataset(api)
    body = {"learning_rate": 0.01, "lora_focus": "General", "num_train_epochs": 1, "datasetId": dataset_id,
            "resolution": 64}  # fmt: skip
    before = _balance(api)
    for change in ({"learning_rate": 0}, {"num_train_epochs": 0}, {"resolution": 100}, {"datasetId": ""}):
        response = api.post("/elements", json={**body, **change})
        assert 400 <= response.status_code < 500, (change, response.text)
    assert api.post("/elements", json={k: v for k, v in body.items() if k != "lora_focus"}).status_code == 400
    assert _balance(api) == before
    weight = api.post("/generations", json={"prompt": "x", "modelId": "tiny-sd15", "width": 64, "height": 64,
                                            "userElements": [{"userLoraId": 1.5}]})  # fmt: skip
    assert weight.status_code == 400


def test_platform_elements_are_listed_for_everyone_and_apply(trainer: Api, tmp_path: Path) -> None:
    """An operator installs a LoRA file in the elements file; any account lists and uses it."""
    api = trainer
    engine = Engine(api.ctx.catalog, api.ctx.models_dir, device="cpu")
    lora = train(engine, spec(steps=4), MemoryCheckpoints()).lora
    (tmp_path / "loras").mkdir()
    (tmp_path / "loras" / "colours.safetensors").write_bytes(lora)
    element_id = "0e6c9ab1-6d0a-4a43-9d5e-4f3f8a3c2a11"
    (tmp_path / "elements.toml").write_text(
        f'[elements.colours]\nid = "{element_id}"\nname = "Colours"\ndescription = "flat colours"\n'
        'base_model = "tiny-sd15"\nfile = "loras/colours.safetensors"\nweight_default = 1\n'
    )
    api.ctx.settings.elements_file = tmp_path / "elements.toml"
    other_key, _ = api.new_key("bob")
    for key in (None, other_key):
        listed = sdk_for(api, key).elements.list_elements().object
        assert listed is not None
        assert [(e.ak_uuid, e.name, e.base_model) for e in listed.loras or []] == [
            (element_id, "Colours", shared.SdVersions.V1_5)
        ]
    base = _pixels(api, api.generate(seed=5, key=other_key), key=other_key)
    used = _pixels(api, api.generate(seed=5, key=other_key, elements=[{"akUUID": element_id, "weight": 1}]),
                   key=other_key)  # fmt: skip
    assert not (used == base).all()
    body = {"prompt": "x", "modelId": "tiny-sd-turbo", "width": 64, "height": 64}
    wrong_base = api.post("/generations", json={**body, "elements": [{"akUUID": element_id}]})
    assert wrong_base.status_code == 400 and "trained on tiny-sd15" in wrong_base.json()["error"]
