"""How a catalog entry asks its model to be held: dtype, CPU offloading, quantisation.

A 12-20 B parameter transformer (FLUX.1, Qwen-Image) does not fit a 24 GB GPU in float16
beside its text encoders. diffusers offers the two usual answers, chosen per catalog entry
(``dtype``, ``offload``, ``quantization``) and applied here at load time:

* **bfloat16**, the dtype these models were trained in (float16 overflows FLUX's
  activations). A CPU always runs float32: its half-precision kernels are slow or absent.
* **Model CPU offload**: every component stays in CPU memory and moves to the GPU only for
  its part of a call (the text encoders, then the transformer, then the VAE), so the GPU
  holds the largest component, not the sum, at the cost of the transfers. Sequential
  offload moves one layer at a time: smallest and slowest.
* **Quantised weights** of the denoiser, through bitsandbytes (NF4, int8) or torchao (fp8),
  where those libraries are installed (``pip install bitsandbytes`` / ``torchao``).

The pipeline cache budgets device memory by :func:`resident_bytes`, which counts what an
offloaded pipeline really keeps on the GPU.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from sfumato.engine.errors import EngineError

if TYPE_CHECKING:
    from sfumato.engine.catalog import ModelEntry

# quantization choice → (library to import, diffusers backend name, its keyword arguments)
_QUANTIZATION: dict[str, tuple[str, str, dict[str, Any]]] = {
    "bnb-nf4": ("bitsandbytes", "bitsandbytes_4bit", {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}),
    "bnb-int8": ("bitsandbytes", "bitsandbytes_8bit", {"load_in_8bit": True}),
    "torchao-fp8": ("torchao", "torchao", {"quant_type": "float8wo_e4m3"}),
}


def torch_dtype(entry: ModelEntry, device: str) -> Any:
    """The dtype ``entry`` loads in on ``device``: float32 on a CPU and for upscalers and
    segmenters, else the entry's choice ("auto": float16)."""
    import torch

    if not device.startswith("cuda") or not entry.is_pipeline or entry.dtype == "float32":
        return torch.float32
    return torch.bfloat16 if entry.dtype == "bfloat16" else torch.float16


def quantization_config(entry: ModelEntry, dtype: Any, device: str, denoiser: str) -> Any:
    """diffusers' quantisation of ``entry``'s ``denoiser`` (``transformer`` or ``unet``) on a
    GPU, or None (no quantisation asked for, or a CPU, where these kernels do not run)."""
    if entry.quantization == "none" or not device.startswith("cuda"):
        return None
    library, backend, arguments = _QUANTIZATION[entry.quantization]
    if importlib.util.find_spec(library) is None:
        raise EngineError(
            f"model {entry.key} asks for {entry.quantization} weights, which need {library}: "
            f'`pip install {library}`, or set quantization = "none" in the catalog'
        )
    from diffusers.quantizers import PipelineQuantizationConfig

    if backend == "bitsandbytes_4bit":
        arguments = {**arguments, "bnb_4bit_compute_dtype": dtype}
    return PipelineQuantizationConfig(
        quant_backend=backend, quant_kwargs=arguments, components_to_quantize=[denoiser]
    )


def scheduler_overrides(entry: ModelEntry, pipeline: Any) -> None:
    """Rebuild the model's own scheduler with the entry's config overrides (SDXL-Lightning's
    trailing timesteps over a repository that ships SDXL's leading ones)."""
    if entry.scheduler_config:
        scheduler = pipeline.scheduler
        pipeline.scheduler = type(scheduler).from_config(scheduler.config, **dict(entry.scheduler_config))


def place(entry: ModelEntry, pipeline: Any, device: str) -> None:
    """Move ``pipeline`` to ``device``, or on a GPU let diffusers offload it as asked."""
    if device.startswith("cuda") and entry.offload == "model":
        pipeline.enable_model_cpu_offload(device=device)
    elif device.startswith("cuda") and entry.offload == "sequential":
        pipeline.enable_sequential_cpu_offload(device=device)
    else:
        pipeline.to(device)


def resident_bytes(entry: ModelEntry, pipeline: Any, device: str) -> int:
    """Device bytes a loaded model takes, for the memory budget: all its weights, or when
    offloaded on a GPU its largest component (what a run brings onto the device at a time;
    sequential offload is counted the same, erring large)."""
    from sfumato.engine.memory import component_bytes

    sizes = component_bytes(pipeline)
    if entry.offload != "none" and device.startswith("cuda") and entry.generates_images:
        return max(sizes.values(), default=0)
    return sum(sizes.values())
