"""LoRA training: low-rank adapters on a diffusion model's denoiser (and text encoders),
learnt from a handful of pictures.

The loop is diffusers' text-to-image LoRA recipe: the dataset's pictures are encoded to
VAE latents once, and each step noises a latent and teaches the denoiser, through peft
adapters on its attention and feed-forward layers, to undo that noise given the instance
prompt; AdamW, gradient accumulation, and on a GPU mixed precision (bf16, or fp16 with loss
scaling) and gradient checkpointing. What "undo" means is the family's objective
(``lora_objectives``): DDPM noise prediction on the UNet families, flow matching on the
FLUX.1 and SD 3.5 transformers.

Everything random in a step — which picture, which latent sample, which timestep, which
noise — is drawn from a generator seeded by the training's seed and the step's number, so
a training resumed from a checkpoint continues exactly where it stopped: no step is
repeated and none is drawn differently. Checkpoints (the adapters, the optimizer state, the
step and the losses so far) go to a :class:`Checkpoints` store every ``checkpoint_every``
steps; the engine knows nothing of where they are kept.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sfumato.engine import loaders, report
from sfumato.engine.catalog import ModelEntry
from sfumato.engine.errors import EngineError
from sfumato.engine.families import traits
from sfumato.engine.lora_objectives import TEXT_ENCODER_TARGETS, TRAINABLE_FAMILIES, objective_for
from sfumato.engine.pipeline_cache import on_disk, vae_record
from sfumato.engine.txt2img import Engine
from sfumato.engine.weights import weights_fingerprint

LORA_FILE = "pytorch_lora_weights.safetensors"  # diffusers' name for a saved LoRA


class Checkpoints(Protocol):
    """Where a training keeps its latest checkpoint (one at a time; a newer one replaces it)."""

    def load(self) -> bytes | None: ...

    def save(self, data: bytes) -> None: ...


@dataclass(frozen=True, kw_only=True)
class TrainingSpec:
    model_key: str
    images: Sequence[Any]  # PIL RGB images
    instance_prompt: str
    resolution: int  # square, a multiple of 8
    steps: int  # optimizer steps
    learning_rate: float = 1e-4
    rank: int = 4
    batch_size: int = 1
    gradient_accumulation: int = 1
    train_text_encoder: bool = False
    seed: int = 0
    checkpoint_every: int = 50


@dataclass
class TrainingResult:
    lora: bytes  # the adapters as diffusers' LoRA safetensors (loadable with ``load_lora_weights``)
    losses: list[float]  # one mean loss per optimizer step, first to last
    resumed_from: int  # the step of the checkpoint it resumed from; 0 when it started afresh
    lineage: dict[str, object] = field(default_factory=dict)


def check_trainable(entry: ModelEntry) -> None:
    if entry.family not in TRAINABLE_FAMILIES:
        families = ", ".join(TRAINABLE_FAMILIES)
        raise EngineError(
            f"model {entry.key} ({entry.family}) cannot be trained here; train one of {families}"
        )


def train(
    engine: Engine,
    spec: TrainingSpec,
    checkpoints: Checkpoints,
    *,
    should_stop: Callable[[], bool] = lambda: False,
) -> TrainingResult:
    """Train ``spec``'s adapters, resuming from ``checkpoints`` when they hold one.

    ``should_stop`` is asked after every step; when it says so the training raises
    :class:`EngineError` (a cancelled job), leaving its last checkpoint behind.
    """
    import torch

    entry = engine.catalog.resolve(spec.model_key)
    if entry is None:
        raise EngineError(f"unknown model {spec.model_key!r}")
    check_trainable(entry)
    _check(spec, traits(entry.family).size_step)
    report.stage(report.LOADING)
    pipeline, weights, device = _fresh_pipeline(engine, entry)
    trainer = _Trainer(pipeline, spec, device, entry.family)
    state = checkpoints.load()
    start = trainer.restore(state) if state is not None else 0
    for step in range(start + 1, spec.steps + 1):
        trainer.step(step)
        report.training_step(step, spec.steps, trainer.losses[-1])
        if step % spec.checkpoint_every == 0 and step < spec.steps:
            checkpoints.save(trainer.checkpoint(step))
        if should_stop():
            raise EngineError(f"training stopped at step {step} of {spec.steps}")
    lineage: dict[str, object] = {
        "task": "train_lora",
        "model_key": entry.key,
        **weights,
        "steps": spec.steps,
        "rank": spec.rank,
        "learning_rate": spec.learning_rate,
        "batch_size": spec.batch_size,
        "gradient_accumulation": spec.gradient_accumulation,
        "resolution": spec.resolution,
        "train_text_encoder": bool(trainer.text_encoders),  # not on a language-model encoder
        "seed": spec.seed,
        "resumed_from": start,
        "device": device,
        "torch_version": torch.__version__,
    }
    return TrainingResult(
        lora=trainer.lora_file(), losses=trainer.losses, resumed_from=start, lineage=lineage
    )


def _check(spec: TrainingSpec, size_step: int) -> None:
    if not spec.images:
        raise EngineError("a training needs at least one picture")
    if spec.resolution < 64 or spec.resolution % size_step:
        raise EngineError(f"resolution {spec.resolution} must be a multiple of {size_step}, at least 64")
    if spec.steps < 1:
        raise EngineError("a training needs at least one step")
    if spec.checkpoint_every < 1 or spec.gradient_accumulation < 1 or spec.batch_size < 1 or spec.rank < 1:
        raise EngineError("checkpoint interval, accumulation, batch size and rank must be at least 1")


def _fresh_pipeline(engine: Engine, entry: ModelEntry) -> tuple[Any, dict[str, str], str]:
    """A private copy of the model to train (the cached one serves generations untouched), and
    what the lineage records of the weights it loaded: the model's fingerprint, and the catalog
    ``vae`` with its fingerprint when one replaced the pipeline's own (as a generation's does)."""
    import torch

    path, vae = on_disk(engine.catalog, entry, engine.models_dir)
    device = engine.pipelines.device
    weights = {"weights_hash": weights_fingerprint(path), **vae_record(entry, vae)}
    return loaders.load(entry, path, device, torch.float32, vae), weights, device


class _Trainer:
    """The models, adapters and optimizer of one training, and its steps."""

    def __init__(self, pipeline: Any, spec: TrainingSpec, device: str, family: str) -> None:
        import torch
        from peft import inject_adapter_in_model

        self.spec = spec
        self.device = device
        self.pipeline = pipeline
        self.objective = objective_for(family, pipeline, spec.instance_prompt, spec.resolution, device)
        self.denoiser = getattr(pipeline, self.objective.denoiser)
        for component in pipeline.components.values():
            if isinstance(component, torch.nn.Module):
                component.requires_grad_(False)
        self.text_encoders = self.objective.text_encoders if spec.train_text_encoder else ()
        with torch.random.fork_rng(devices=[]):  # the adapters' initial weights follow the seed
            torch.manual_seed(spec.seed)
            self.denoiser.add_adapter(self._lora_config(self.objective.targets))
            for name in self.text_encoders:
                # peft's own injection: transformers' ``add_adapter`` asks for a newer peft
                inject_adapter_in_model(self._lora_config(TEXT_ENCODER_TARGETS), getattr(pipeline, name))
        self.denoiser.train()  # once: walking every module each step costs as much as the optimizer
        self.cuda = device.startswith("cuda")
        # Mixed precision on CUDA: bf16 where the card has it, else fp16 with loss scaling
        # (the adapters and the optimizer stay in fp32 either way).
        self.half = torch.bfloat16 if self.cuda and torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.cuda and self.half == torch.float16)
        if self.cuda:
            self.denoiser.enable_gradient_checkpointing()
        trained = self._trained_modules().values()
        self.parameters = [p for module in trained for p in module.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.parameters, lr=spec.learning_rate, weight_decay=1e-2)
        self.losses: list[float] = []
        self._frozen_conditioning: dict[str, Any] | None = None
        self.latents = self._encode_pictures()

    def _lora_config(self, targets: list[str]) -> Any:
        from peft import LoraConfig

        rank = self.spec.rank
        return LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=targets)

    def _trained_modules(self) -> dict[str, Any]:
        """The modules that carry adapters, by the name diffusers saves them under."""
        modules = {self.objective.denoiser: self.denoiser}
        modules.update((name, getattr(self.pipeline, name)) for name in self.text_encoders)
        return modules

    def _encode_pictures(self) -> Any:
        """Each picture's latent distribution (mean, std), resized and centre-cropped to the resolution."""
        import numpy as np
        import torch
        from PIL import ImageOps

        size = self.spec.resolution
        tensors = []
        for picture in self.spec.images:
            fitted = ImageOps.fit(picture.convert("RGB"), (size, size))
            array = np.asarray(fitted, dtype=np.float32) / 127.5 - 1.0
            tensors.append(torch.from_numpy(array).permute(2, 0, 1))
        pixels = torch.stack(tensors).to(self.device)
        with torch.no_grad():
            return self.objective.latents(pixels)

    def step(self, step: int) -> None:
        """One optimizer step: ``gradient_accumulation`` micro-batches, drawn from ``step``'s seed."""
        import torch

        spec = self.spec
        generator = torch.Generator("cpu").manual_seed(spec.seed * 1_000_003 + step)
        self.optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for _ in range(spec.gradient_accumulation):
            loss = self._loss(generator) / spec.gradient_accumulation
            self.scaler.scale(loss).backward()
            total += float(loss.detach())
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.parameters, 1.0)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.losses.append(total)

    def _loss(self, generator: Any) -> Any:
        import torch

        mean, std = self.latents
        picks = torch.randint(0, mean.shape[0], (self.spec.batch_size,), generator=generator)
        sample = torch.randn(mean[picks].shape, generator=generator).to(self.device)
        latents = self.objective.scale(mean[picks] + std[picks] * sample)
        return self.objective.loss(latents, self._conditioning(), generator, self._autocast)

    def _autocast(self) -> Any:
        import torch

        return torch.autocast("cuda", dtype=self.half, enabled=self.cuda)

    def _conditioning(self) -> dict[str, Any]:
        """The instance prompt's encoding: once, unless the text encoders learn too."""
        import torch

        if self.text_encoders:
            return self.objective.conditioning()
        if self._frozen_conditioning is None:
            with torch.no_grad():
                self._frozen_conditioning = self.objective.conditioning()
        return self._frozen_conditioning

    def _adapter_states(self) -> dict[str, dict[str, Any]]:
        from peft import get_peft_model_state_dict

        return {name: get_peft_model_state_dict(module) for name, module in self._trained_modules().items()}

    def checkpoint(self, step: int) -> bytes:
        import torch

        buffer = io.BytesIO()
        state = {
            "step": step,
            "losses": list(self.losses),
            "adapters": self._adapter_states(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
        }
        torch.save(state, buffer)
        return buffer.getvalue()

    def restore(self, data: bytes) -> int:
        """Load a checkpoint; the step it was taken after."""
        import torch
        from peft import set_peft_model_state_dict

        state = torch.load(io.BytesIO(data), map_location=self.device, weights_only=True)
        for name, module in self._trained_modules().items():
            if name in state["adapters"]:
                set_peft_model_state_dict(module, state["adapters"][name])
        self.optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.losses = [float(loss) for loss in state["losses"]]
        return int(state["step"])

    def lora_file(self) -> bytes:
        """The adapters as the safetensors file the family pipeline's ``save_lora_weights`` writes."""
        from diffusers.utils import convert_state_dict_to_diffusers

        convert = convert_state_dict_to_diffusers if self.objective.converts_names else dict
        layers = {f"{name}_lora_layers": convert(state) for name, state in self._adapter_states().items()}
        with tempfile.TemporaryDirectory() as directory:
            type(self.pipeline).save_lora_weights(directory, safe_serialization=True, **layers)
            return (Path(directory) / LORA_FILE).read_bytes()
