"""Per-model memory choices: dtype, CPU offload and quantisation, as loaded and as budgeted."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import torch

from sfumato.engine import Catalog, Engine, EngineError
from sfumato.engine import memory_choices as choices
from sfumato.engine.memory import pipeline_bytes


def _entry(catalog: Catalog, key: str) -> Any:
    entry = catalog.resolve(key)
    assert entry is not None
    return entry


def test_the_big_families_ask_for_bf16_and_offloading(catalog: Catalog) -> None:
    for key in ("flux-dev", "flux-schnell", "qwen-image", "sd35-large"):
        entry = _entry(catalog, key)
        assert (entry.dtype, entry.offload) == ("bfloat16", "model"), key
    assert _entry(catalog, "sd35-medium").offload == "none"  # 2.5 B fits a 24 GB card whole


def test_dtype_follows_the_entry_on_a_gpu_and_is_float32_on_a_cpu(catalog: Catalog) -> None:
    flux, sdxl, upscaler = (_entry(catalog, k) for k in ("flux-dev", "sdxl", "realesrgan-x4plus"))
    assert choices.torch_dtype(flux, "cuda") == torch.bfloat16
    assert choices.torch_dtype(sdxl, "cuda:0") == torch.float16
    assert choices.torch_dtype(upscaler, "cuda") == torch.float32
    assert choices.torch_dtype(flux, "cpu") == torch.float32


def test_placement_offloads_on_a_gpu_only(catalog: Catalog) -> None:
    class Recorder:
        def __init__(self) -> None:
            self.calls: list[tuple[str, str]] = []

        def enable_model_cpu_offload(self, device: str) -> None:
            self.calls.append(("model offload", device))

        def enable_sequential_cpu_offload(self, device: str) -> None:
            self.calls.append(("sequential offload", device))

        def to(self, device: str) -> None:
            self.calls.append(("to", device))

    flux = _entry(catalog, "flux-dev")
    for entry, device, expected in (
        (flux, "cuda", ("model offload", "cuda")),
        (dataclasses.replace(flux, offload="sequential"), "cuda:1", ("sequential offload", "cuda:1")),
        (dataclasses.replace(flux, offload="none"), "cuda", ("to", "cuda")),
        (flux, "cpu", ("to", "cpu")),
    ):
        pipeline = Recorder()
        choices.place(entry, pipeline, device)
        assert pipeline.calls == [expected]


def test_an_offloaded_model_is_budgeted_by_its_largest_component(engine: Engine, catalog: Catalog) -> None:
    entry = _entry(catalog, "tiny-flux-dev")
    pipeline = engine.pipelines.get(entry)
    whole = pipeline_bytes(pipeline)
    assert choices.resident_bytes(entry, pipeline, "cpu") == whole  # a CPU holds it all
    offloaded = choices.resident_bytes(entry, pipeline, "cuda")
    assert 0 < offloaded < whole
    assert offloaded == max(
        sum(t.numel() * t.element_size() for t in (*m.parameters(), *m.buffers()))
        for m in pipeline.components.values()
        if isinstance(m, torch.nn.Module)
    )
    assert choices.resident_bytes(dataclasses.replace(entry, offload="none"), pipeline, "cuda") == whole


def test_quantisation_is_for_gpus_and_names_its_library(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    flux = _entry(catalog, "flux-dev")
    assert choices.quantization_config(flux, torch.bfloat16, "cuda", "transformer") is None  # none asked
    nf4 = dataclasses.replace(flux, quantization="bnb-nf4")
    assert choices.quantization_config(nf4, torch.bfloat16, "cpu", "transformer") is None
    monkeypatch.setattr(choices.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EngineError, match="pip install bitsandbytes"):
        choices.quantization_config(nf4, torch.bfloat16, "cuda", "transformer")
    fp8 = dataclasses.replace(flux, quantization="torchao-fp8")
    with pytest.raises(EngineError, match="pip install torchao"):
        choices.quantization_config(fp8, torch.bfloat16, "cuda", "transformer")


def test_a_user_catalog_chooses_memory_per_model(tmp_path: Path) -> None:
    extra = tmp_path / "catalog.toml"
    extra.write_text('[models.flux-dev]\noffload = "none"\nquantization = "bnb-nf4"\n')
    flux = _entry(Catalog.load(extra=extra), "flux-dev")
    assert (flux.dtype, flux.offload, flux.quantization) == ("bfloat16", "none", "bnb-nf4")
    extra.write_text('[models.flux-dev]\noffload = "disk"\n')
    with pytest.raises(EngineError, match="offload must be one of none, model, sequential"):
        Catalog.load(extra=extra)
