"""Weights on disk → a model in memory, one loader per kind of model in the catalog.

Image-generation families load as diffusers pipelines; upscalers as spandrel image models
(spandrel reads the architecture and scale from the state dict, so any ESRGAN-class file
works); segmenters as a transformers panoptic model with its image processor. The pipeline
cache calls :func:`load` for all of them, so every model shares one bound and one budget.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfumato.engine.catalog import SAFETY_FAMILY, SEGMENTER_FAMILY, UPSCALER_FAMILY, ModelEntry
from sfumato.engine.errors import EngineError
from sfumato.engine.memory_choices import place, quantization_config, scheduler_overrides
from sfumato.engine.progress import quiet_progress_bars
from sfumato.engine.weights import detect_variant

_WHAT = {UPSCALER_FAMILY: "upscaler", SEGMENTER_FAMILY: "segmenter", SAFETY_FAMILY: "safety classifier"}


@dataclass
class Segmenter:
    """A panoptic segmentation model and the image processor that prepares its input."""

    model: Any
    processor: Any


@dataclass
class Classifier:
    """An image-classification model (the output safety check) and its image processor."""

    model: Any
    processor: Any


def load(entry: ModelEntry, path: Path, device: str, dtype: Any, vae: Path | None = None) -> Any:
    """The model of ``entry`` from ``path``, on ``device``; raises :class:`EngineError`.

    ``vae`` is the directory of the AutoencoderKL the entry names in place of the pipeline's
    own (``vae_dir``), or None to keep the pipeline's.
    """
    try:
        if entry.family == UPSCALER_FAMILY:
            return _upscaler(path, device)
        if entry.family == SEGMENTER_FAMILY:
            return _segmenter(path, device)
        if entry.family == SAFETY_FAMILY:
            return _classifier(path, device)
        quiet_progress_bars()
        pipeline = _pipeline(entry, path, dtype, device, vae)
        scheduler_overrides(entry, pipeline)
        place(entry, pipeline, device)
        pipeline.set_progress_bar_config(disable=True)
        return pipeline
    except EngineError:
        raise
    except Exception as exc:
        what = _WHAT.get(entry.family)
        if what is not None:
            raise EngineError(f"cannot load {what} weights {path}: {exc}") from exc
        raise EngineError(f"cannot load model {entry.key} from {path}: {exc}") from exc


def _pipeline(entry: ModelEntry, path: Path, dtype: Any, device: str, vae: Path | None) -> Any:
    """Load through diffusers' own loaders, the same path for tiny and real weights.

    A catalog ``vae`` is loaded first and handed to the pipeline's loader, which then skips
    the pipeline's own VAE weights (never read, never held).
    """
    from diffusers import DiffusionPipeline, StableDiffusionPipeline, StableDiffusionXLPipeline

    replaced = {"vae": _autoencoder(vae, dtype)} if vae is not None else {}
    if path.is_file():
        # A single checkpoint carries weights only; diffusers finds the matching configs
        # itself (from its cache or the hub) — see the catalog notes on local sources.
        single = StableDiffusionXLPipeline if entry.family == "sdxl" else StableDiffusionPipeline
        return single.from_single_file(str(path), dtype=dtype, **replaced)
    kwargs: dict[str, Any] = {"dtype": dtype, **replaced}
    variant = detect_variant(path)
    if variant is not None:
        kwargs["variant"] = variant
    index = json.loads((path / "model_index.json").read_text("utf-8"))
    denoiser = "transformer" if "transformer" in index else "unet"
    quantization = quantization_config(entry, dtype, device, denoiser)
    if quantization is not None:
        kwargs["quantization_config"] = quantization
    if "safety_checker" in index and not (path / "safety_checker").is_dir():
        # Fetched without its safety checker (see pull.py): load without it, on purpose.
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    return DiffusionPipeline.from_pretrained(str(path), **kwargs)


def _autoencoder(path: Path, dtype: Any) -> Any:
    """The AutoencoderKL in ``path`` (a diffusers directory), in ``dtype``.

    Its own config decides whether the pipeline decodes in float32 on a GPU: SDXL's VAE says
    ``force_upcast``, an fp16-safe one (madebyollin/sdxl-vae-fp16-fix) does not.
    """
    if not (path / "config.json").is_file():
        raise EngineError(f"no VAE at {path}: it has no config.json")
    from diffusers import AutoencoderKL

    kwargs: dict[str, Any] = {"dtype": dtype}
    variant = detect_variant(path)
    if variant is not None:
        kwargs["variant"] = variant
    return AutoencoderKL.from_pretrained(str(path), **kwargs)


def _upscaler(path: Path, device: str) -> Any:
    if not path.is_file():
        raise EngineError(f"no upscaler weights at {path}")
    import spandrel

    model = spandrel.ModelLoader(device=device).load_from_file(path)
    if not isinstance(model, spandrel.ImageModelDescriptor) or model.input_channels != 3:
        raise EngineError(f"{path} is not an RGB image-to-image model")
    model.eval()
    return model


def _segmenter(path: Path, device: str) -> Segmenter:
    if not (path / "config.json").is_file():
        raise EngineError(f"no segmentation model at {path}")
    from transformers import AutoImageProcessor, AutoModelForUniversalSegmentation

    model = AutoModelForUniversalSegmentation.from_pretrained(str(path)).to(device).eval()
    return Segmenter(model=model, processor=AutoImageProcessor.from_pretrained(str(path)))


def _classifier(path: Path, device: str) -> Classifier:
    if not (path / "config.json").is_file():
        raise EngineError(f"no image classifier at {path}")
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    quiet_progress_bars()
    model = AutoModelForImageClassification.from_pretrained(str(path)).to(device).eval()
    return Classifier(model=model, processor=AutoImageProcessor.from_pretrained(str(path)))
