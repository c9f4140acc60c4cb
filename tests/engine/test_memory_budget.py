"""The pipeline cache keeps loaded weights within a memory budget, evicting least recently used."""

from __future__ import annotations

from pathlib import Path

from sfumato.engine import Catalog
from sfumato.engine.pipeline_cache import PipelineCache


def _cache(catalog: Catalog, models_dir: Path, budget: int | None) -> PipelineCache:
    return PipelineCache(catalog, models_dir, device="cpu", max_loaded=5, memory_budget=budget)


def test_loading_past_the_budget_evicts_the_least_recently_used(
    catalog: Catalog, tiny_models_dir: Path
) -> None:
    probe = _cache(catalog, tiny_models_dir, None)
    for key in ("tiny-sd15", "tiny-sdxl"):
        probe.get(catalog.resolve(key))  # type: ignore[arg-type]
    both = probe.loaded_bytes()
    assert both > 0
    cache = _cache(catalog, tiny_models_dir, budget=both - 1)  # room for less than both
    for key in ("tiny-sd15", "tiny-sdxl"):
        cache.get(catalog.resolve(key))  # type: ignore[arg-type]
    assert cache.loaded_keys() == ["tiny-sdxl"]
    assert cache.loaded_bytes() < both


def test_a_pinned_model_stays_whatever_the_budget(catalog: Catalog, tiny_models_dir: Path) -> None:
    cache = _cache(catalog, tiny_models_dir, budget=1)
    cache.pin("tiny-sd15")
    for key in ("tiny-sd15", "tiny-sdxl"):
        cache.get(catalog.resolve(key))  # type: ignore[arg-type]
    assert cache.loaded_keys() == ["tiny-sd15", "tiny-sdxl"]  # the newest stays too: it is in use


def test_without_a_budget_only_the_count_bounds_the_cache(catalog: Catalog, tiny_models_dir: Path) -> None:
    cache = _cache(catalog, tiny_models_dir, budget=None)
    for key in ("tiny-sd15", "tiny-sdxl"):
        cache.get(catalog.resolve(key))  # type: ignore[arg-type]
    assert cache.loaded_keys() == ["tiny-sd15", "tiny-sdxl"]


def test_upscalers_and_segmenters_count_toward_the_budget_and_leave_least_recently_used(
    catalog: Catalog, tiny_models_dir: Path
) -> None:
    keys = ("tiny-esrgan", "tiny-mask2former", "tiny-sd15")
    probe = _cache(catalog, tiny_models_dir, None)
    sizes = {}
    for key in keys:
        probe.get(catalog.resolve(key))  # type: ignore[arg-type]
        sizes[key] = probe.loaded_bytes() - sum(sizes.values())
    assert probe.loaded_keys() == list(keys)
    assert all(size > 0 for size in sizes.values())  # each counts its own weights
    # Room for any two of the three models, never for all three.
    budget = sum(sizes.values()) - min(sizes.values())
    cache = _cache(catalog, tiny_models_dir, budget=budget)
    for key in keys:
        cache.get(catalog.resolve(key))  # type: ignore[arg-type]
    assert cache.loaded_keys() == ["tiny-mask2former", "tiny-sd15"]  # the upscaler, used first, left
    cache.get(catalog.resolve("tiny-mask2former"))  # type: ignore[arg-type]  # used again: newest now
    cache.get(catalog.resolve("tiny-esrgan"))  # type: ignore[arg-type]
    assert cache.loaded_keys() == ["tiny-mask2former", "tiny-esrgan"]  # the pipeline was oldest
    assert cache.loaded_bytes() <= budget


def test_a_run_s_adapters_count_in_the_budget_while_it_holds_them(
    catalog: Catalog, tiny_models_dir: Path
) -> None:
    """Two models fit; with a run's LoRA bytes on one of them they do not, so the other
    leaves first; when the run ends the adapters' bytes are no longer counted."""
    probe = _cache(catalog, tiny_models_dir, None)
    for key in ("tiny-sd15", "tiny-sdxl"):
        probe.get(catalog.resolve(key))  # type: ignore[arg-type]
    both = probe.loaded_bytes()
    cache = _cache(catalog, tiny_models_dir, budget=both + 1000)
    for key in ("tiny-sd15", "tiny-sdxl"):
        cache.get(catalog.resolve(key))  # type: ignore[arg-type]
    assert cache.loaded_keys() == ["tiny-sd15", "tiny-sdxl"]
    sdxl = catalog.resolve("tiny-sdxl")
    with cache.lease(sdxl, extra_bytes=500):  # type: ignore[arg-type]
        assert cache.loaded_keys() == ["tiny-sd15", "tiny-sdxl"]  # still fits
    with cache.lease(sdxl, extra_bytes=5000):  # type: ignore[arg-type]
        assert cache.loaded_keys() == ["tiny-sdxl"]  # the other model made room
        during = cache.loaded_bytes()
    assert cache.loaded_bytes() == during - 5000
