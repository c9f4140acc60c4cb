"""Variation jobs name the model they load, and only a worker that may load it claims them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from sfumato.engine import Catalog, Engine
from sfumato.engine.catalog import SEGMENTER_FAMILY, UPSCALER_FAMILY
from sfumato.service import variations
from sfumato.store import workers
from sfumato.store.models import GeneratedImage, Job, Variation
from sfumato.worker.loop import Worker
from tests.worker.conftest import Bench


def _variation_jobs(bench: Bench) -> dict[str, Job]:
    """Each variation's job, by variation id."""
    with bench.ctx.db.read() as session:
        return {job.payload["variation_id"]: job for job in session.query(Job).filter_by(kind="variation")}


def _status(bench: Bench, variation_id: str) -> str:
    with bench.ctx.db.read() as session:
        row = session.get(Variation, variation_id)
        assert row is not None
        return row.status


def test_a_worker_claims_a_variation_only_when_it_may_load_its_model(bench: Bench) -> None:
    generation_id = bench.submit()
    assert bench.worker().run_once()
    with bench.ctx.db.read() as session:
        [image_id] = session.scalars(select(GeneratedImage.id).filter_by(generation_id=generation_id))
    settings = bench.ctx.settings
    settings.upscaler, settings.segmenter = "tiny-esrgan", "tiny-mask2former"
    settings.realtime_model = "tiny-lcm"
    upscaled = variations.create_upscale(bench.ctx, bench.principal, image_id).variation_id
    cut = variations.create_nobg(bench.ctx, bench.principal, image_id, is_variation=False).variation_id
    framed = variations.create_unzoom(bench.ctx, bench.principal, image_id, is_variation=False).variation_id
    universal = variations.create_universal_upscale(
        bench.ctx, bench.principal, variations.UniversalUpscaleRequest(generated_image_id=image_id)
    ).variation_id
    jobs = _variation_jobs(bench)
    assert {v: jobs[v].model_key for v in (upscaled, cut, framed, universal)} == {
        upscaled: "tiny-esrgan",
        cut: "tiny-mask2former",
        framed: "tiny-sd15-inpainting",  # the generation's family's inpainter paints the border
        universal: "tiny-esrgan",
    }

    # A worker whose models exclude every variation's model leaves them all queued.
    assert not bench.worker(models=["tiny-sd15", "tiny-lcm"]).run_once()
    assert {job.state for job in _variation_jobs(bench).values()} == {"queued"}

    # One allowed the segmenter takes the background removal, and nothing else.
    segmenting = bench.worker(models=["tiny-mask2former"])
    assert segmenting.run_once() == 1
    assert not segmenting.run_once()
    assert _status(bench, cut) == "COMPLETE"
    assert "tiny-mask2former" in segmenting.capabilities().loaded  # preferred by its next claims
    assert {_status(bench, v) for v in (upscaled, framed, universal)} == {"PENDING"}

    # One allowed the upscaler takes both upscales; the unzoom waits for its painter.
    upscaling = bench.worker(models=["tiny-esrgan", "tiny-lcm"])
    assert upscaling.run_once() == 1 and upscaling.run_once() == 1
    assert not upscaling.run_once()
    assert _status(bench, upscaled) == _status(bench, universal) == "COMPLETE"
    assert _status(bench, framed) == "PENDING"


def test_a_worker_runs_the_upscalers_and_segmenters_it_has_weights_for(bench: Bench, tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    own_upscaler = tmp_path / "weights" / "4x-own.pth"
    # SFUMATO_UPSCALER naming a weights file makes that file a catalog model.
    catalog = Catalog.load(paths={UPSCALER_FAMILY: str(own_upscaler), SEGMENTER_FAMILY: "mask2former-coco"})
    engine = Engine(catalog, models_dir, device="cpu")
    worker = Worker(db=bench.ctx.db, engine=engine, blobs=bench.ctx.blobs, worker_id="sr-1")
    models = worker.capabilities().models
    assert models is not None
    assert {"tiny-esrgan", "tiny-mask2former"} <= models  # built on demand, anywhere
    assert not {"realesrgan-x4plus", "mask2former-coco", str(own_upscaler)} & models  # no weights here

    (models_dir / "realesrgan-x4plus").mkdir(parents=True)
    (models_dir / "realesrgan-x4plus" / "RealESRGAN_x4plus.pth").write_bytes(b"weights")
    (models_dir / "mask2former-coco").mkdir()
    (models_dir / "mask2former-coco" / "config.json").write_text("{}")
    own_upscaler.parent.mkdir()
    own_upscaler.write_bytes(b"weights")
    worker._last_advertised = 0.0  # look again and advertise, as the next heartbeat would
    worker._housekeeping()
    with bench.ctx.db.read() as session:
        [record] = workers.list_workers(session)
    assert record.models is not None
    assert {"realesrgan-x4plus", "mask2former-coco", str(own_upscaler)} <= set(record.models)
