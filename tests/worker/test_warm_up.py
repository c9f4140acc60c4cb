"""Workers load the realtime model before their first claim, and only a model they may run."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from sfumato.engine import Catalog, Engine
from sfumato.worker.loop import Worker
from tests.worker.conftest import Bench


@pytest.mark.parametrize(("models", "warmed"), [(None, ["tiny-lcm"]), (["tiny-sd15"], [])])
def test_a_starting_worker_loads_the_models_it_keeps_warm(
    bench: Bench, models_dir: Path, models: list[str] | None, warmed: list[str]
) -> None:
    engine = Engine(Catalog.load(), models_dir, device="cpu", max_loaded=1)
    worker = Worker(db=bench.ctx.db, engine=engine, blobs=bench.ctx.blobs, poll_seconds=0.05,
                    keep_warm=["tiny-lcm", "lcm-sd15"], models=models)  # fmt: skip
    thread = threading.Thread(target=worker.run_forever)
    thread.start()
    try:
        assert worker.idle.wait(timeout=60)
        # lcm-sd15 has no weights here: skipped with a log line, not an error
        assert engine.loaded_models() == warmed
    finally:
        worker.stop()
        thread.join(timeout=30)


@pytest.mark.databases("sqlite")  # nothing here touches the database beyond the start
def test_a_starting_worker_runs_its_warm_up_shapes_before_its_first_claim(
    bench: Bench, models_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SFUMATO_COMPILE_WARMUP: a compiled model compiles each shape at start, not in a job."""
    import logging

    engine = Engine(Catalog.load(), models_dir, device="cpu", max_loaded=1, warm_shapes=["tiny-sd15@64x64x2"])
    worker = Worker(db=bench.ctx.db, engine=engine, blobs=bench.ctx.blobs, poll_seconds=0.05, keep_warm=[])
    thread = threading.Thread(target=worker.run_forever)
    with caplog.at_level(logging.INFO, logger="sfumato.worker.loop"):
        thread.start()
        try:
            assert worker.idle.wait(timeout=60)
            assert engine.loaded_models() == ["tiny-sd15"]
        finally:
            worker.stop()
            thread.join(timeout=30)
    assert "warmed tiny-sd15@64x64x2 up in" in caplog.text
