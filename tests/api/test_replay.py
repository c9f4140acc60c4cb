"""Lineage on the wire, and replaying a generation from it as a new, charged generation."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from sfumato.service import prompts
from tests.api.conftest import Api
from tests.api.sdk import sdk_for
from tests.api.test_image_editing import EDIT
from tests.api.uploading import fetch, noise_png, upload


def _balance(api: Api) -> int:
    return int(api.get("/me").json()["user_details"][0]["apiSubscriptionTokens"])


def _replay(api: Api, generation_id: str, key: str | None = None) -> Any:
    return api.post(f"/generations/{generation_id}/replay", key=key)


def _replayed(api: Api, generation_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Replay, wait for it, and return it with its report."""
    response = _replay(api, generation_id)
    assert response.status_code == 200, response.text
    job = response.json()["sdGenerationJob"]
    replay = api.wait(job["generationId"])
    assert replay["status"] == "COMPLETE", replay.get("failureReason")
    report = api.get(f"/generations/{replay['id']}/replay-report")
    assert report.status_code == 200, report.text
    return replay, report.json()["replay_report"]


def test_lineage_is_on_the_generation_the_listing_and_through_the_sdk(api: Api) -> None:
    generation = api.wait(api.generate(num_images=2, seed=7))
    lineage = generation["lineage"]
    assert lineage["task"] == "text_to_image" and lineage["modelKey"] == "tiny-sd15"
    assert lineage["weightsHash"] and lineage["torchVersion"] and lineage["diffusersVersion"]
    assert lineage["device"] == "cpu" and lineage["dtype"] and lineage["attempts"] == 1 and lineage["worker"]
    assert lineage["batchSize"] == 2 and lineage["batchPosition"] == 0 and lineage["steps"] == 10
    assert lineage["seeds"] == [7, 8] == generation["imageSeeds"]
    downloaded = [
        hashlib.sha256(fetch(api, i["url"]).content).hexdigest() for i in generation["generated_images"]
    ]
    assert lineage["imageSha256"] == downloaded
    [listed] = api.get(f"/generations/user/{api.user_id}").json()["generations"]
    assert listed["lineage"] == lineage

    sdk = sdk_for(api)
    by_pk = sdk.image.get_generation_by_id(id=generation["id"]).object.generations_by_pk  # type: ignore[union-attr]
    assert by_pk is not None and by_pk.id == generation["id"] and by_pk.status is not None
    page = sdk.image.get_generations_by_user_id(user_id=api.user_id).object.generations  # type: ignore[union-attr]
    assert page is not None and page[0].id == generation["id"]


def test_replaying_text_to_image_draws_the_same_pixels_and_is_charged(api: Api) -> None:
    original = api.wait(api.generate(num_images=2, seed=1234, presetStyle="CINEMATIC"))
    before = _balance(api)
    replay, report = _replayed(api, original["id"])
    assert replay["id"] != original["id"]
    assert (
        _balance(api) == before - replay["apiCreditCost"]
        and replay["apiCreditCost"] == original["apiCreditCost"]
    )
    for name in ("prompt", "negativePrompt", "seed", "imageSeeds", "modelId", "scheduler", "imageWidth",
                 "imageHeight", "inferenceSteps", "guidanceScale", "presetStyle"):  # fmt: skip
        assert replay[name] == original[name], name
    assert replay["lineage"]["replayOf"] == original["id"]
    assert replay["lineage"]["imageSha256"] == original["lineage"]["imageSha256"]
    assert report["replayOf"] == original["id"] and report["generationId"] == replay["id"]
    assert report["identical"] is True and report["differences"] == []
    assert [i["identical"] for i in report["images"]] == [True, True]
    # the replay is a generation like any other: it is listed, and a second replay is new again
    assert len(api.get(f"/generations/user/{api.user_id}").json()["generations"]) == 2
    again = _replay(api, original["id"]).json()["sdGenerationJob"]["generationId"]
    assert again not in (original["id"], replay["id"])
    api.wait(again)


def test_replay_does_not_run_prompt_enhancement_again(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    original = api.wait(api.generate(prompt="a fox", enhancePrompt=True, seed=3))
    assert original["prompt"] != "a fox"

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the prompt was enhanced again")

    monkeypatch.setattr(prompts, "improve_text", refuse)
    replay, report = _replayed(api, original["id"])
    assert replay["prompt"] == original["prompt"] and report["identical"] is True


def test_replaying_image_to_image_reuses_its_source_even_after_the_upload_is_deleted(api: Api) -> None:
    source = noise_png(seed=21)
    image_id = upload(api, source)
    original = api.wait(api.generate(**EDIT, init_image_id=image_id, init_strength=0.4))
    assert original["status"] == "COMPLETE", original.get("failureReason")
    assert api.delete(f"/init-image/{image_id}").status_code == 200
    replay, report = _replayed(api, original["id"])
    assert replay["initImageId"] == image_id and replay["initStrength"] == 0.4
    assert replay["initImageSha256"] == original["initImageSha256"] == hashlib.sha256(source).hexdigest()
    assert replay["lineage"]["task"] == "image_to_image"
    assert report["identical"] is True and report["differences"] == []
    assert api.ctx.blobs.exists(f"generations/{replay['id']}/input/init.png")

    api.ctx.blobs.delete(f"generations/{original['id']}/input/init.png")
    before = _balance(api)
    missing = _replay(api, original["id"])
    assert missing.status_code == 409 and missing.json()["code"] == "source-missing"
    assert "missing" in missing.json()["error"] and set(missing.json()) >= {"error", "path", "code"}
    assert _balance(api) == before


def test_replay_of_a_deleted_or_foreign_generation_is_not_found(api: Api) -> None:
    mine = api.wait(api.generate())
    other_key, _ = api.new_key("mallory")
    foreign = _replay(api, mine["id"], key=other_key)
    assert foreign.status_code == 404 and foreign.json()["code"] == "not-found"
    assert api.get(f"/generations/{mine['id']}/replay-report", key=other_key).status_code == 404
    not_a_replay = api.get(f"/generations/{mine['id']}/replay-report")
    assert not_a_replay.status_code == 404 and not_a_replay.json()["code"] == "not-a-replay"
    assert api.delete(f"/generations/{mine['id']}").status_code == 200
    gone = _replay(api, mine["id"])
    assert gone.status_code == 404 and "No generation" in gone.json()["error"]
    assert _replay(api, "no-such-id").status_code == 404


def test_a_replay_of_a_batched_original_reports_the_batch(api: Api) -> None:
    """The report names what the machine did differently, here the batch the original shared."""
    from sfumato.store.models import Generation

    original = api.wait(api.generate(seed=5))
    with api.ctx.db.transaction() as session:
        row = session.get(Generation, original["id"])
        assert row is not None
        row.lineage = {**row.lineage, "batch_size": 3, "batch_position": 2, "batch_jobs": 3}
    _replay_row, report = _replayed(api, original["id"])
    names = {d["name"]: (d["original"], d["replay"]) for d in report["differences"]}
    assert names == {"batchSize": (3, 1), "batchPosition": (2, 0), "batchJobs": (3, 1)}
    assert report["identical"] is True  # it ran alone: only its record says otherwise
