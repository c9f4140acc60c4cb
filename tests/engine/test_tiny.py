"""Tiny models: deterministic builds, the same from_pretrained path as real weights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sfumato.engine import EngineError
from sfumato.engine.tiny import TINY_PIPELINES, _build_pipeline, build_tiny


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_same_family_builds_identical_files(tmp_path: Path, tiny_models_dir: Path) -> None:
    build_tiny("sd15", tmp_path / "again")
    first = _files(tiny_models_dir / "tiny-sd15")
    second = _files(tmp_path / "again")
    assert first.keys() == second.keys()
    assert any(name.endswith(".safetensors") for name in first)
    assert first == second


def test_families_differ(tiny_models_dir: Path) -> None:
    def shape(folder: Path) -> bytes:
        # What a family is: its pipeline, its denoiser (UNet or transformer) and its sampler.
        denoiser = folder / "unet" if (folder / "unet").is_dir() else folder / "transformer"
        parts = (
            folder / "model_index.json",
            denoiser / "config.json",
            folder / "scheduler" / "scheduler_config.json",
        )
        return b"".join(part.read_bytes() for part in parts)

    shapes = {family: shape(tiny_models_dir / f"tiny-{family}") for family in TINY_PIPELINES}
    assert len(set(shapes.values())) == len(TINY_PIPELINES)


@pytest.mark.parametrize(
    ("family", "class_name", "scheduler"),
    [
        ("sd15", "StableDiffusionPipeline", "PNDMScheduler"),
        ("sdxl", "StableDiffusionXLPipeline", "EulerDiscreteScheduler"),
        ("sd-turbo", "StableDiffusionPipeline", "EulerAncestralDiscreteScheduler"),
        ("sd15-inpainting", "StableDiffusionInpaintPipeline", "PNDMScheduler"),
        ("sdxl-inpainting", "StableDiffusionXLInpaintPipeline", "EulerDiscreteScheduler"),
        ("sdxl-lightning", "StableDiffusionXLPipeline", "EulerDiscreteScheduler"),
        ("flux-schnell", "FluxPipeline", "FlowMatchEulerDiscreteScheduler"),
        ("flux-dev", "FluxPipeline", "FlowMatchEulerDiscreteScheduler"),
        ("flux-kontext", "FluxKontextPipeline", "FlowMatchEulerDiscreteScheduler"),
        ("sd3", "StableDiffusion3Pipeline", "FlowMatchEulerDiscreteScheduler"),
        ("qwen-image", "QwenImagePipeline", "FlowMatchEulerDiscreteScheduler"),
    ],
)
def test_from_pretrained_round_trip(
    tiny_models_dir: Path, family: str, class_name: str, scheduler: str
) -> None:
    import torch
    from diffusers import DiffusionPipeline

    loaded = DiffusionPipeline.from_pretrained(tiny_models_dir / f"tiny-{family}", dtype=torch.float32)
    assert type(loaded).__name__ == class_name
    assert type(loaded.scheduler).__name__ == scheduler
    built = _build_pipeline(family)
    modules = [name for name, part in built.components.items() if isinstance(part, torch.nn.Module)]
    assert {"vae", "text_encoder"} <= set(modules)
    for name in modules:
        expected = getattr(built, name).state_dict()
        actual = getattr(loaded, name).state_dict()
        assert expected.keys() == actual.keys()
        assert all(torch.equal(expected[k], actual[k]) for k in expected)
    if family == "qwen-image":  # its byte-level tokenizer: one id per byte, then the end marker
        ids = loaded.tokenizer("a cat").input_ids
        assert len(ids) == 6 and ids[-1] == 1 and ids[0] == ids[3] and len(set(ids)) == 5
        return
    assert loaded.tokenizer.model_max_length == 77
    assert loaded.tokenizer("a cat").input_ids[0] == loaded.tokenizer.bos_token_id


def test_sd_turbo_schedules_trailing_steps(tiny_models_dir: Path) -> None:
    import json

    config = json.loads(
        (tiny_models_dir / "tiny-sd-turbo" / "scheduler" / "scheduler_config.json").read_text()
    )
    assert config["timestep_spacing"] == "trailing"


def test_build_is_skipped_when_present(tiny_models_dir: Path) -> None:
    target = tiny_models_dir / "tiny-sd15"
    before = (target / "model_index.json").stat().st_mtime_ns
    build_tiny("sd15", target)
    assert (target / "model_index.json").stat().st_mtime_ns == before


def test_concurrent_builds_in_two_processes(tmp_path: Path) -> None:
    target = tmp_path / "tiny-sd-turbo"
    code = (
        "from pathlib import Path\n"
        "from sfumato.engine.tiny import build_tiny\n"
        f"build_tiny('sd-turbo', Path({str(target)!r}))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE) for _ in range(2)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    assert (target / "model_index.json").is_file()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "tiny-sd-turbo"]
    assert all(name.endswith(".lock") for name in leftovers), leftovers


def test_unknown_family_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="no tiny model"):
        build_tiny("flux", tmp_path / "x")
