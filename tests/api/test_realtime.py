"""The realtime canvas through the official SDK: synchronous LCM requests on the realtime lane."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from leonardo_ai_sdk.models import operations, shared

from sfumato.runtime import build_worker
from sfumato.store.models import Job, RealtimeRequest
from tests.api.canvas import balance, canvas_app, data_url, from_data_url, noise, square_mask
from tests.api.conftest import Api
from tests.api.sdk import sdk_for


@pytest.fixture
def api(database_url: str, tmp_path: Path, models_dir: Path) -> Any:
    with canvas_app(database_url, tmp_path, models_dir) as app:
        yield app


def lcm_body(**changes: Any) -> dict[str, Any]:
    body = {"imageDataUrl": data_url(noise()), "prompt": "a lighthouse", "width": 64, "height": 64, "seed": 5}
    body.update(changes)
    return body


def test_lcm_generation_round_trips_through_the_sdk(api: Api) -> None:
    sdk = sdk_for(api)
    before = balance(api)
    request = operations.CreateLCMGenerationRequestBody(
        image_data_url=data_url(noise(seed=1), format="JPEG"),
        prompt="a lighthouse at dusk",
        width=64,
        height=64,
        seed=42,
        steps=4,
        strength=0.6,
        guidance=8.0,
        style=shared.LcmGenerationStyle.FANTASY_ART,
        request_timestamp="2026-11-26T10:00:00.000Z",
    )
    job = sdk.realtime_canvas.create_lcm_generation(request=request).object.lcm_generation_job  # type: ignore[union-attr]
    assert job is not None and job.image_data_url is not None and len(job.image_data_url) == 1
    assert job.request_timestamp == "2026-11-26T10:00:00.000Z"
    assert job.cost is not None and job.cost.amount is not None
    picture = from_data_url(job.image_data_url[0])
    assert picture.size == (64, 64) and picture.mode == "RGB"
    assert balance(api) == before - int(job.cost.amount)
    again = sdk.realtime_canvas.create_lcm_generation(request=request).object.lcm_generation_job  # type: ignore[union-attr]
    assert again is not None and again.image_data_url is not None
    assert np.array_equal(np.asarray(from_data_url(again.image_data_url[0])), np.asarray(picture))


def test_instant_refine_and_a_canvas_of_another_size(api: Api) -> None:
    sdk = sdk_for(api)
    request = operations.PerformInstantRefineRequestBody(
        image_data_url=data_url(noise(32, 40)), prompt="a harbour", width=64, height=80, seed=1
    )
    job = sdk.realtime_canvas.perform_instant_refine(request=request).object.lcm_generation_job  # type: ignore[union-attr]
    assert job is not None and job.image_data_url is not None
    assert from_data_url(job.image_data_url[0]).size == (64, 80)  # the canvas is fitted to the size asked


def test_lcm_inpainting_keeps_every_pixel_outside_the_mask(api: Api) -> None:
    sdk = sdk_for(api)
    canvas = noise(seed=4)
    mask = square_mask()
    request = operations.PerformInpaintingLCMRequestBody(
        image_data_url=data_url(canvas),
        mask_data_url=data_url(mask),
        prompt="a red door",
        width=64,
        height=64,
        seed=9,
        strength=1.0,
    )
    job = sdk.realtime_canvas.perform_inpainting_lcm(request=request).object.lcm_generation_job  # type: ignore[union-attr]
    assert job is not None and job.image_data_url is not None
    painted = np.asarray(from_data_url(job.image_data_url[0])).astype(int)
    original = np.asarray(canvas).astype(int)
    keep = np.asarray(mask) == 0
    assert np.array_equal(painted[keep], original[keep])
    assert np.abs(painted[~keep] - original[~keep]).mean() > 10


@pytest.mark.parametrize("creative", [False, True])
def test_alchemy_upscale_doubles_the_canvas(api: Api, creative: bool) -> None:
    sdk = sdk_for(api)
    request = operations.PerformAlchemyUpscaleLCMRequestBody(
        image_data_url=data_url(noise()), prompt="a castle", width=64, height=64, seed=2,
        refine_creative=creative, refine_strength=0.6 if creative else None,
    )  # fmt: skip
    job = sdk.realtime_canvas.perform_alchemy_upscale_lcm(request=request).object.lcm_generation_job  # type: ignore[union-attr]
    assert job is not None and job.image_data_url is not None and job.cost is not None
    assert from_data_url(job.image_data_url[0]).size == (128, 128)


def test_a_realtime_request_overtakes_queued_batch_work(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    with canvas_app(
        database_url, tmp_path, models_dir, with_worker=False, realtime_timeout_seconds=60
    ) as api:
        generations = [api.generate() for _ in range(3)]
        answer: dict[str, Any] = {}
        waiting = threading.Thread(
            target=lambda: answer.update(r=api.post("/generations-lcm", json=lcm_body()))
        )
        waiting.start()
        worker = build_worker(api.ctx)
        while not _queued(api, "realtime_canvas"):
            threading.Event().wait(0.02)
        assert worker.run_once()  # the first job any worker takes is the realtime one
        waiting.join(timeout=30)
        assert answer["r"].status_code == 200, answer["r"].text
        assert [api.get(f"/generations/{g}").json()["generations_by_pk"]["status"] for g in generations] == [
            "PENDING"
        ] * 3


def _queued(api: Api, kind: str) -> bool:
    with api.ctx.db.read() as session:
        return session.query(Job).filter(Job.kind == kind, Job.state == "queued").count() > 0


def test_no_worker_means_a_clear_timeout_and_no_charge(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    with canvas_app(
        database_url, tmp_path, models_dir, with_worker=False, realtime_timeout_seconds=0.3
    ) as api:
        before = balance(api)
        response = api.post("/generations-lcm", json=lcm_body())
        assert response.status_code == 504
        body = response.json()
        assert body["code"] == "timeout" and "SFUMATO_REALTIME_TIMEOUT_SECONDS" in body["error"]
        assert balance(api) == before
        with api.ctx.db.read() as session:
            [request] = session.query(RealtimeRequest).all()
            [job] = session.query(Job).all()
            assert (request.status, job.state) == ("ABANDONED", "cancelled")
            keys = list(request.input_keys.values())
        assert keys and not any(api.ctx.blobs.exists(key) for key in keys)  # nothing left behind


@pytest.mark.parametrize(
    ("path", "changes", "status", "fragment"),
    [
        ("/generations-lcm", {"imageDataUrl": "https://example.com/a.png"}, 400, "data URL"),
        ("/generations-lcm", {"imageDataUrl": "data:image/png;base64,%%%"}, 400, "base64"),
        ("/generations-lcm", {"imageDataUrl": "data:image/png;base64,aGVsbG8="}, 400, "not a PNG"),
        ("/generations-lcm", {"steps": 4, "strength": 0.1}, 400, "steps × strength"),
        ("/generations-lcm", {"width": 68}, 400, "multiple of 8"),
        ("/generations-lcm", {"width": 2048}, 400, "width"),
        ("/generations-lcm", {"style": "BAROQUE"}, 400, "style"),
        ("/generations-lcm", {"prompt": "  "}, 400, "prompt"),
        ("/generations-lcm", {"steps": 2}, 400, "steps"),
        ("/lcm-inpainting", {}, 400, "maskDataUrl"),
        ("/lcm-inpainting", {"maskDataUrl": data_url(square_mask(box=(0, 0, 0, 0)))}, 400, "selects nothing"),
        ("/lcm-upscale", {"refineCreative": True, "refineStrength": 0.95}, 400, "refineStrength"),
    ],
)
def test_bad_canvas_requests_are_refused_clearly(
    database_url: str, tmp_path: Path, models_dir: Path, path: str, changes: dict[str, Any], status: int,
    fragment: str,
) -> None:  # fmt: skip
    with canvas_app(database_url, tmp_path, models_dir, with_worker=False) as api:
        before = balance(api)
        response = api.post(path, json=lcm_body(**changes))
        assert response.status_code == status, response.text
        body = response.json()
        assert set(body) == {"error", "path", "code"} and fragment in body["error"]
        assert balance(api) == before


def test_a_poor_account_gets_402_and_a_stranger_401(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    with canvas_app(database_url, tmp_path, models_dir, with_worker=False) as api:
        key, _ = api.new_key("pauper", credits=0)
        response = api.post("/generations-lcm", json=lcm_body(), key=key)
        assert response.status_code == 402 and response.json()["code"] == "insufficient-credits"
        assert api.post("/generations-lcm", json=lcm_body(), key="sfu_nope").status_code == 401


@pytest.mark.parametrize(
    ("setting", "path"),
    [
        ({"realtime_model": "lcm-sd15"}, "/generations-lcm"),
        ({"upscaler": "realesrgan-x4plus"}, "/lcm-upscale"),
    ],
)
def test_absent_weights_are_a_400_that_says_how_to_get_them(
    database_url: str, tmp_path: Path, models_dir: Path, setting: dict[str, str], path: str
) -> None:
    with canvas_app(database_url, tmp_path, models_dir, with_worker=False, **setting) as api:
        response = api.post(path, json=lcm_body())
        assert response.status_code == 400
        assert response.json()["code"] == "model-unavailable"
        assert (
            "sfumato models pull lcm-sd15" in response.json()["error"]
            or "RealESRGAN" in response.json()["error"]
        )


def test_the_lcm_model_is_refused_by_text_to_image_with_a_pointer_to_the_canvas(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    with canvas_app(database_url, tmp_path, models_dir, with_worker=False) as api:
        response = api.post(
            "/generations", json={"modelId": "tiny-lcm", "prompt": "a fox", "width": 64, "height": 64}
        )
        assert response.status_code == 400
        assert (
            response.json()["code"] == "unsupported-feature"
            and "/generations-lcm" in response.json()["error"]
        )


def test_transparent_parts_of_an_inpainting_canvas_are_painted_too(api: Api) -> None:
    opaque = noise(seed=6)
    canvas = opaque.convert("RGBA")
    canvas.paste((0, 0, 0, 0), (48, 0, 64, 64))  # the right strip is a hole
    mask = square_mask(box=(0, 0, 16, 16))
    response = api.post(
        "/lcm-inpainting",
        json=lcm_body(imageDataUrl=data_url(canvas), maskDataUrl=data_url(mask), strength=1.0),
    )
    assert response.status_code == 200, response.text
    painted = np.asarray(from_data_url(response.json()["lcmGenerationJob"]["imageDataUrl"][0])).astype(int)
    keep = np.ones((64, 64), dtype=bool)
    keep[:16, :16] = False
    keep[:, 48:] = False
    assert np.array_equal(painted[keep], np.asarray(opaque).astype(int)[keep])
    assert painted[:, 48:].std() > 5  # the hole was painted, not left one flat colour


def test_a_job_that_fails_on_the_worker_answers_with_its_reason_and_refunds(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    bogus = tmp_path / "not-an-upscaler.pth"
    bogus.write_bytes(b"these are not weights")
    with canvas_app(database_url, tmp_path, models_dir, upscaler=str(bogus)) as api:
        before = balance(api)
        response = api.post("/lcm-upscale", json=lcm_body())
        assert response.status_code == 500
        assert "cannot load upscaler weights" in response.json()["error"]
        assert balance(api) == before


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sdxl_lightning_serves_the_canvas_and_another_model_is_refused(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    """SFUMATO_REALTIME_MODEL may name a distilled SDXL; a model that needs many steps is refused."""
    with canvas_app(database_url, tmp_path, models_dir, realtime_model="tiny-sdxl-lightning") as api:
        sdk = sdk_for(api)
        request = operations.CreateLCMGenerationRequestBody(
            image_data_url=data_url(noise(seed=1)), prompt="a lighthouse", width=64, height=64, seed=3,
            steps=4, strength=0.6, guidance=8.0,
        )  # fmt: skip
        job = sdk.realtime_canvas.create_lcm_generation(request=request).object.lcm_generation_job  # type: ignore[union-attr]
        assert job is not None and job.image_data_url is not None
        first = np.asarray(from_data_url(job.image_data_url[0]))
        request.seed = 4
        other = sdk.realtime_canvas.create_lcm_generation(request=request).object.lcm_generation_job  # type: ignore[union-attr]
        assert other is not None and other.image_data_url is not None
        assert first.shape == (64, 64, 3)
        assert not np.array_equal(first, np.asarray(from_data_url(other.image_data_url[0])))
        painted = api.post("/lcm-inpainting", json=lcm_body(maskDataUrl=data_url(square_mask())))
        assert painted.status_code == 200, painted.text
        kept = np.asarray(from_data_url(painted.json()["lcmGenerationJob"]["imageDataUrl"][0])).astype(int)
        assert np.abs(kept[:8] - np.asarray(noise()).astype(int)[:8]).max() <= 1
    with canvas_app(database_url, tmp_path, models_dir, with_worker=False, realtime_model="tiny-sdxl") as api:
        refused = api.post("/generations-lcm", json=lcm_body())
        assert refused.status_code == 400 and "few-step canvas model" in refused.json()["error"]
