"""Workers advertise what they can run and claim nothing else."""

from __future__ import annotations

import threading

from sfumato.store import workers
from tests.worker.conftest import Bench


def test_a_worker_advertises_its_kinds_models_memory_and_loaded_models(bench: Bench) -> None:
    bench.submit()
    worker = bench.worker(worker_id="gpu-7")
    assert worker.run_once()
    worker._last_advertised = 0.0  # advertise again now, as the next heartbeat would
    worker._housekeeping()
    with bench.ctx.db.read() as session:
        [record] = workers.list_workers(session)
    assert record.id == "gpu-7"
    assert "text_to_image" in record.kinds
    assert record.models is not None and "tiny-sd15" in record.models
    assert "sdxl" not in record.models  # no weights on this machine
    assert "tiny-sd15" in record.loaded_models
    assert record.device == "cpu"
    assert record.free_memory_bytes is not None and record.free_memory_bytes > 0


def test_a_stopped_worker_withdraws_its_advertisement(bench: Bench) -> None:
    worker = bench.worker(worker_id="leaving")
    thread = threading.Thread(target=worker.run_forever)
    thread.start()
    assert worker.idle.wait(30)
    with bench.ctx.db.read() as session:
        assert [r.id for r in workers.list_workers(session)] == ["leaving"]
    worker.stop()
    thread.join(timeout=30)
    with bench.ctx.db.read() as session:
        assert workers.list_workers(session) == []


def test_a_worker_limited_to_some_models_leaves_the_others_queued(bench: Bench) -> None:
    sd15 = bench.submit(model_id="tiny-sd15")
    sdxl_only = bench.worker(models=["tiny-sdxl"])
    assert not sdxl_only.run_once()
    assert bench.job(sd15).state == "queued"
    assert bench.worker(models=["tiny-sd15"]).run_once()
    assert bench.generation(sd15).status == "COMPLETE"
