"""The pipeline cache: load once, evict the least recently used, never share a scheduler."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sfumato.engine import Catalog, Engine, ModelEntry, txt2img
from sfumato.engine.pipeline_cache import PipelineCache
from sfumato.engine.schedulers import make_scheduler, scheduler_names
from tests.engine.conftest import DEVICE, make_spec


def _entry(catalog: Catalog, key: str) -> ModelEntry:
    entry = catalog.resolve(key)
    assert entry is not None
    return entry


def test_get_loads_once_and_caches(catalog: Catalog, tiny_models_dir: Path) -> None:
    cache = PipelineCache(catalog, tiny_models_dir, device=DEVICE)
    entry = _entry(catalog, "tiny-sd15")
    first = cache.get(entry)
    assert cache.get(entry) is first
    assert cache.loaded_keys() == ["tiny-sd15"]


def test_least_recently_used_is_evicted(catalog: Catalog, tiny_models_dir: Path) -> None:
    cache = PipelineCache(catalog, tiny_models_dir, device=DEVICE, max_loaded=2)
    sd15, sdxl, turbo = (_entry(catalog, k) for k in ("tiny-sd15", "tiny-sdxl", "tiny-sd-turbo"))
    cache.get(sd15)
    cache.get(sdxl)
    cache.get(sd15)  # now sdxl is the least recently used
    cache.get(turbo)
    assert cache.loaded_keys() == ["tiny-sd15", "tiny-sd-turbo"]
    cache.evict("tiny-sd15")
    assert cache.loaded_keys() == ["tiny-sd-turbo"]
    cache.clear()
    assert cache.loaded_keys() == []


def test_concurrent_gets_load_once(
    catalog: Catalog, tiny_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = PipelineCache(catalog, tiny_models_dir, device=DEVICE)
    loads: list[str] = []
    real_load = PipelineCache._load

    def counting_load(self: PipelineCache, entry: ModelEntry) -> Any:
        loads.append(entry.key)
        return real_load(self, entry)

    monkeypatch.setattr(PipelineCache, "_load", counting_load)
    entry = _entry(catalog, "tiny-sdxl")
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(entry))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == ["tiny-sdxl"]
    assert len(results) == 4 and all(r is results[0] for r in results)


def test_lease_gives_a_copy_with_its_own_scheduler(catalog: Catalog, tiny_models_dir: Path) -> None:
    cache = PipelineCache(catalog, tiny_models_dir, device=DEVICE)
    entry = _entry(catalog, "tiny-sd15")
    shared = cache.get(entry)
    with cache.lease(entry, "DDIM") as loaded:
        assert loaded.pipeline is not shared
        assert loaded.pipeline.unet is shared.unet  # weights are shared, not copied
        assert type(loaded.pipeline.scheduler).__name__ == "DDIMScheduler"
    with cache.lease(entry) as loaded:
        assert type(loaded.pipeline.scheduler).__name__ == "PNDMScheduler"
        assert loaded.pipeline.scheduler is not shared.scheduler
    assert type(shared.scheduler).__name__ == "PNDMScheduler"
    assert shared.config["scheduler"][1] == "PNDMScheduler"


@pytest.mark.parametrize("scheduler", [None, *scheduler_names()])
def test_each_run_gets_a_scheduler_as_new_as_a_fresh_build(
    engine: Engine, scheduler: str | None, one_thread: None
) -> None:
    """Runs copy a pristine scheduler instead of building one: the pixels are those of a
    scheduler built for the run, and a run leaves nothing behind for the next one."""
    if scheduler == "KLMS" and importlib.util.find_spec("scipy") is None:
        pytest.skip("KLMS needs scipy")
    spec = make_spec(seeds=(41,), steps=3, scheduler=scheduler)
    entry = _entry(engine.catalog, spec.model_key)
    first = np.asarray(engine.text_to_image(spec).images[0])
    with engine.pipelines.lease(entry, scheduler) as earlier:
        used = earlier.pipeline.scheduler
    with engine.pipelines.lease(entry, scheduler) as loaded:
        assert loaded.pipeline.scheduler is not used
        loaded.pipeline.scheduler = make_scheduler(scheduler, engine.pipelines.get(entry).scheduler)
        built = np.asarray(txt2img._run(loaded, spec)[0])
    again = np.asarray(engine.text_to_image(spec).images[0])
    assert np.array_equal(first, built)
    assert np.array_equal(again, first)


def test_parallel_runs_match_sequential_runs(engine: Engine) -> None:
    seeds = [31, 32, 33, 34]
    specs = [make_spec(seeds=(s,), scheduler="EULER_ANCESTRAL_DISCRETE") for s in seeds]
    expected = [np.asarray(engine.text_to_image(spec).images[0]) for spec in specs]
    got: dict[int, np.ndarray] = {}

    def run(index: int) -> None:
        got[index] = np.asarray(engine.text_to_image(specs[index]).images[0])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(specs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index, pixels in enumerate(expected):
        assert np.array_equal(got[index], pixels)
