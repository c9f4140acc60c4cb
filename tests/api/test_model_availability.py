"""Whether a model can run is what live workers say, not what the API node has on disk.

In the scaled shape (`serve --no-worker`) the API node holds no weights: a request is
accepted when a live worker advertises its model, and refused with a 400 naming the model
when none does (or when the only one that did has gone silent). In the embedded shape the
in-process worker's own weights count from the start.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from sfumato.app import create_app
from sfumato.engine.tiny import build_tiny
from sfumato.runtime import build_context
from sfumato.service.availability import LiveModels
from sfumato.service.keys import issue_key
from sfumato.store import workers
from sfumato.store.clock import utcnow
from sfumato.store.models import WorkerRecord
from tests.api.canvas import TINY_MODELS
from tests.api.conftest import Api, make_settings

SDXL = {"modelId": "sdxl", "prompt": "a lighthouse", "width": 64, "height": 64, "num_images": 1}


@contextmanager
def node(
    database_url: str, tmp_path: Path, models_dir: Path, *, with_worker: bool = False, **overrides: Any
) -> Iterator[Api]:
    """An API node over the shared database; models_dir is its own disk (no real weights)."""
    changes = {**TINY_MODELS, "fleet_cache_seconds": 0, **overrides}
    settings = make_settings(database_url, tmp_path, models_dir, **changes)
    ctx = build_context(settings)
    with TestClient(create_app(settings, context=ctx, with_worker=with_worker)) as client:
        issued = issue_key(ctx, username="alice")
        yield Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id)


def advertise(api: Api, worker_id: str, models: list[str], *, age_seconds: float = 0) -> None:
    """A GPU worker elsewhere says what it runs (``age_seconds`` ago)."""
    ad = workers.Advertisement(worker_id=worker_id, hostname="gpu-1", pid=1, device="cuda:0",
                               kinds=["text_to_image", "variation"], models=models, loaded_models=[],
                               free_memory_bytes=None, running_jobs=0)  # fmt: skip
    with api.ctx.db.transaction() as session:
        workers.advertise(session, ad)
        session.flush()
        record = session.get(WorkerRecord, worker_id)
        assert record is not None
        record.seen_at = utcnow() - timedelta(seconds=age_seconds)


def platform_model(api: Api, key: str) -> dict[str, Any] | None:
    models = api.get("/platformModels").json()["custom_models"]
    return next((m for m in models if m["key"] == key), None)


def test_an_api_node_accepts_what_a_live_worker_runs_and_refuses_what_none_does(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    with node(database_url, tmp_path, models_dir) as api:
        refused = api.post("/generations", json=SDXL)
        assert refused.status_code == 400 and refused.json()["code"] == "model-unavailable"
        error = refused.json()["error"]
        assert "sdxl" in error and "no live worker" in error and "sfumato models pull sdxl" in error
        assert platform_model(api, "sdxl")["ready"] is False  # type: ignore[index]

        advertise(api, "gpu-worker", ["sdxl", "realesrgan-x4plus"])
        accepted = api.post("/generations", json=SDXL)
        assert accepted.status_code == 200, accepted.text
        assert platform_model(api, "sdxl")["ready"] is True  # type: ignore[index]
        # The SDK's default modelId is an alias of sdxl: accepted the same way.
        assert api.post("/generations", json={**SDXL, "modelId": None}).status_code == 200


def test_a_worker_silent_for_three_heartbeats_no_longer_counts(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    with node(database_url, tmp_path, models_dir, heartbeat_seconds=2) as api:
        advertise(api, "gone-quiet", ["sdxl"], age_seconds=7)  # beyond 3 × 2 s
        refused = api.post("/generations", json=SDXL)
        assert refused.status_code == 400 and "sdxl" in refused.json()["error"]
        assert "no live worker" in refused.json()["error"]
        advertise(api, "gone-quiet", ["sdxl"], age_seconds=1)  # it spoke again
        assert api.post("/generations", json=SDXL).status_code == 200


def test_upscalers_and_segmenters_are_checked_against_the_fleet_too(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    with node(database_url, tmp_path, models_dir, upscaler="realesrgan-x4plus",
              segmenter="mask2former-coco") as api:  # fmt: skip
        refused = api.post("/variations/nobg", json={"id": "any"})
        assert refused.status_code == 400 and "mask2former-coco" in refused.json()["error"]
        advertise(api, "gpu-worker", ["mask2former-coco"])
        # Past the model check now: the picture is what is missing.
        assert api.post("/variations/nobg", json={"id": "any"}).status_code == 404
        refused = api.post("/variations/upscale", json={"id": "any"})
        assert refused.status_code == 400 and "realesrgan-x4plus" in refused.json()["error"]
        # Upscalers and segmenters are catalog models, but not Leonardo platform models.
        keys = {m["key"] for m in api.get("/platformModels").json()["custom_models"]}
        assert "tiny-sd15" in keys and not {"realesrgan-x4plus", "tiny-esrgan", "mask2former-coco"} & keys


def test_the_embedded_worker_counts_its_own_weights_from_the_start(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    weights = tmp_path / "weights" / "mine"
    build_tiny("sd15", weights)  # real-looking local weights, not a tiny: source
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "catalog.toml").write_text(
        f'[models.mine]\nid = "0d3c8f4e-1a2b-4c5d-8e9f-0a1b2c3d4e5f"\nname = "Mine"\n'
        f'family = "sd15"\nsource = "{weights}"\ndefault_width = 64\ndefault_height = 64\n'
    )
    body = {**SDXL, "modelId": "mine"}
    with node(database_url, tmp_path, models_dir) as api:  # API only: its disk does not count
        assert api.post("/generations", json=body).status_code == 400
    with node(database_url, tmp_path, models_dir, with_worker=True) as api:
        generation_id = api.post("/generations", json=body).json()["sdGenerationJob"]["generationId"]
        assert api.wait(generation_id)["status"] == "COMPLETE"


def test_the_fleet_is_read_once_per_cache_time_not_per_request(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    with node(database_url, tmp_path, models_dir) as api:
        now = [0.0]
        live = LiveModels(api.ctx.db, ttl_seconds=2.0, stale_after_seconds=30, clock=lambda: now[0])
        api.ctx.live_models = live
        assert "sdxl" not in live.current()
        advertise(api, "gpu-worker", ["sdxl"])
        assert api.post("/generations", json=SDXL).status_code == 400  # within the cache time
        now[0] = 2.5
        assert api.post("/generations", json=SDXL).status_code == 200


def test_a_model_whose_vae_is_missing_is_refused_with_a_400_naming_it(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    absent = tmp_path / "weights" / "absent-vae"
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "catalog.toml").write_text(
        f'[models.tiny-sdxl-vae]\nid = "8c2d4e6f-0a1b-4c3d-9e5f-7a8b9c0d1e2f"\nname = "Tiny SDXL, own VAE"\n'
        f'family = "sdxl"\nsource = "tiny:sdxl"\nvae = "{absent}"\ndefault_width = 64\ndefault_height = 64\n'
    )
    body = {**SDXL, "modelId": "tiny-sdxl-vae"}
    # Even the embedded worker, which builds tiny models itself, cannot run it without its VAE.
    with node(database_url, tmp_path, models_dir, with_worker=True) as api:
        refused = api.post("/generations", json=body)
        assert refused.status_code == 400 and refused.json()["code"] == "model-unavailable"
        error = refused.json()["error"]
        assert "tiny-sdxl-vae" in error and str(absent) in error and "VAE" in error
        assert platform_model(api, "tiny-sdxl-vae")["ready"] is False  # type: ignore[index]
