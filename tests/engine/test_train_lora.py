"""LoRA training on the tiny SD 1.5: the loss falls, a resumed run repeats no step, the file loads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sfumato.engine import Engine, EngineError
from sfumato.engine.train_lora import TrainingSpec, train
from sfumato.engine.weights import weights_fingerprint
from tests.engine.conftest import DEVICE, own_vae_catalog


class MemoryCheckpoints:
    def __init__(self) -> None:
        self.saved: list[bytes] = []

    def load(self) -> bytes | None:
        return self.saved[-1] if self.saved else None

    def save(self, data: bytes) -> None:
        self.saved.append(data)


def pictures(count: int = 4) -> list[Image.Image]:
    """Four flat colours: easy to learn, so the loss must fall."""
    colours = [(220, 30, 30), (30, 200, 40), (20, 40, 210), (230, 220, 30)]
    return [Image.new("RGB", (64, 64), colours[i % 4]) for i in range(count)]


def spec(**changes: object) -> TrainingSpec:
    fields: dict[str, object] = {
        "model_key": "tiny-sd15",
        "images": pictures(),
        "instance_prompt": "a photo of sks colours",
        "resolution": 64,
        "steps": 30,
        "learning_rate": 3e-2,
        "gradient_accumulation": 2,
        "batch_size": 2,
        "seed": 3,
        "checkpoint_every": 10,
    }
    fields.update(changes)
    return TrainingSpec(**fields)  # type: ignore[arg-type]


def test_the_loss_goes_down(engine: Engine, one_thread: None) -> None:
    result = train(engine, spec(), MemoryCheckpoints())
    assert len(result.losses) == 30 and result.resumed_from == 0
    first, last = np.mean(result.losses[:5]), np.mean(result.losses[-5:])
    assert last < first * 0.8, (first, last)
    assert result.lora[:8] and result.lineage["weights_hash"]


def test_a_stopped_training_resumes_from_its_checkpoint_repeating_nothing(
    engine: Engine, one_thread: None
) -> None:
    whole = train(engine, spec(steps=20), MemoryCheckpoints())
    checkpoints = MemoryCheckpoints()
    steps_seen: list[int] = []

    def stop_after_13() -> bool:
        steps_seen.append(len(steps_seen) + 1)
        return len(steps_seen) == 13

    with pytest.raises(EngineError, match="stopped at step 13"):
        train(engine, spec(steps=20), checkpoints, should_stop=stop_after_13)
    assert len(checkpoints.saved) == 1  # after step 10
    resumed = train(engine, spec(steps=20), checkpoints)
    assert resumed.resumed_from == 10
    assert len(resumed.losses) == 20
    np.testing.assert_allclose(resumed.losses, whole.losses, rtol=1e-4)


def test_text_encoder_adapters_and_refusals(engine: Engine) -> None:
    result = train(engine, spec(steps=2, train_text_encoder=True), MemoryCheckpoints())
    from safetensors.torch import load

    names = list(load(result.lora))
    assert any(name.startswith("text_encoder.") for name in names)
    assert any(name.startswith("unet.") for name in names)
    with pytest.raises(EngineError, match="cannot be trained"):
        train(engine, spec(model_key="tiny-lcm"), MemoryCheckpoints())
    with pytest.raises(EngineError, match="multiple of 8"):
        train(engine, spec(resolution=60), MemoryCheckpoints())


def test_the_lineage_names_the_catalog_vae_the_training_encoded_with(
    engine: Engine, other_vae: Path, tmp_path: Path, one_thread: None
) -> None:
    own = Engine(own_vae_catalog(tmp_path, str(other_vae)), tmp_path / "models", device=DEVICE)
    with_vae = train(own, spec(model_key="tiny-sdxl-vae", steps=1), MemoryCheckpoints())
    usual = train(engine, spec(model_key="tiny-sdxl", steps=1), MemoryCheckpoints())

    assert with_vae.lineage["vae"] == str(other_vae)
    assert with_vae.lineage["vae_hash"] == weights_fingerprint(other_vae)
    assert with_vae.lineage["weights_hash"] == usual.lineage["weights_hash"]  # the same tiny SDXL
    assert "vae" not in usual.lineage and "vae_hash" not in usual.lineage
    # Same weights, seed and pictures: only the latents the other VAE encoded differ.
    assert with_vae.losses != usual.losses


def test_a_trained_lora_changes_pixels_only_while_applied(engine: Engine, one_thread: None) -> None:
    import hashlib
    from dataclasses import replace

    from sfumato.engine.adapters import Adapter
    from tests.engine.conftest import make_spec

    lora = train(engine, spec(steps=8, train_text_encoder=True), MemoryCheckpoints()).lora
    adapter = Adapter(sha256=hashlib.sha256(lora).hexdigest(), weights=lora, weight=1.0)
    base = np.asarray(engine.text_to_image(make_spec(seeds=(5,))).images[0])
    with_lora = np.asarray(engine.text_to_image(make_spec(seeds=(5,), adapters=(adapter,))).images[0])
    zero = replace(adapter, weight=0.0)
    at_zero = np.asarray(engine.text_to_image(make_spec(seeds=(5,), adapters=(zero,))).images[0])
    after = np.asarray(engine.text_to_image(make_spec(seeds=(5,))).images[0])
    assert np.abs(with_lora.astype(int) - base.astype(int)).max() > 0
    assert np.array_equal(at_zero, base)
    assert np.array_equal(after, base)  # nothing of the adapter stays on the cached pipeline
    both = (adapter, replace(adapter, weight=0.5))
    assert not np.array_equal(
        np.asarray(engine.text_to_image(make_spec(seeds=(5,), adapters=both)).images[0]), base
    )


# key → generation keywords the family takes (guidance as its model card, negative prompt only where taken)
FAMILY_GENERATION = {
    "tiny-sdxl": {},
    "tiny-flux-dev": {"guidance_scale": 3.5, "negative_prompt": None},
    "tiny-flux-schnell": {"guidance_scale": 0.0, "negative_prompt": None},
    "tiny-sd3": {"guidance_scale": 4.5},
    "tiny-qwen-image": {"guidance_scale": 4.0},
}


@pytest.mark.parametrize("key", FAMILY_GENERATION)
def test_each_family_learns_and_its_lora_steers_only_while_applied(
    engine: Engine, one_thread: None, key: str
) -> None:
    """SDXL learns through its added conditions, FLUX.1, SD 3.5 and Qwen-Image by flow
    matching; each file loads onto its family's pipeline."""
    import hashlib
    from dataclasses import replace

    from sfumato.engine.adapters import Adapter
    from tests.engine.conftest import make_spec

    result = train(engine, spec(model_key=key, steps=24), MemoryCheckpoints())
    first, last = np.mean(result.losses[:4]), np.mean(result.losses[-4:])
    assert last < first * 0.95, (first, last)
    adapter = Adapter(sha256=hashlib.sha256(result.lora).hexdigest(), weights=result.lora, weight=1.0)
    generation = {"model_key": key, "seeds": (5,), **FAMILY_GENERATION[key]}
    base = np.asarray(engine.text_to_image(make_spec(**generation)).images[0])
    steered = np.asarray(engine.text_to_image(make_spec(**generation, adapters=(adapter,))).images[0])
    zero = (replace(adapter, weight=0.0),)
    at_zero = np.asarray(engine.text_to_image(make_spec(**generation, adapters=zero)).images[0])
    assert np.abs(steered.astype(int) - base.astype(int)).max() > 0
    assert np.array_equal(at_zero, base)


def test_a_flow_training_resumes_exactly_and_a_family_s_size_step_is_kept(engine: Engine) -> None:
    whole = train(engine, spec(model_key="tiny-flux-dev", steps=12), MemoryCheckpoints())
    checkpoints = MemoryCheckpoints()
    with pytest.raises(EngineError, match="stopped at step 10"):
        calls = iter(range(1, 100))
        train(
            engine,
            spec(model_key="tiny-flux-dev", steps=12),
            checkpoints,
            should_stop=lambda: next(calls) == 10,
        )
    resumed = train(engine, spec(model_key="tiny-flux-dev", steps=12), checkpoints)
    assert resumed.resumed_from == 10
    np.testing.assert_allclose(resumed.losses, whole.losses, rtol=1e-4)
    with pytest.raises(EngineError, match="multiple of 16"):
        train(engine, spec(model_key="tiny-sd3", resolution=72), MemoryCheckpoints())
    with pytest.raises(EngineError, match="cannot be trained"):
        train(engine, spec(model_key="tiny-flux-kontext"), MemoryCheckpoints())
    qwen = train(
        engine, spec(model_key="tiny-qwen-image", steps=1, train_text_encoder=True), MemoryCheckpoints()
    )
    assert qwen.lineage["train_text_encoder"] is False  # its text encoder is a language model
