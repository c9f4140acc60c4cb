"""Faster runs of the same pipelines: memory layout, fused projections, attention kernels, compile.

Each fast path is one switch of :class:`FastPaths`, chosen by the settings. The ones on by
default keep every pixel within one uint8 level of eager mode at the same seed (what
batching already allows, and what the tests check on tiny models): they change float
rounding, never the arithmetic. The others are opt-in, with what they cost in fidelity
written beside them:

* **channels-last** (``channels_last``): the UNet's and VAE's convolutions read NHWC
  tensors, the layout GPU convolution kernels are fastest on. Same arithmetic.
* **fused QKV projections** (``fuse_qkv``): one matrix product for query, key and value
  (diffusers' ``fuse_qkv_projections``) instead of three. Same arithmetic, wider GEMM. A run
  with LoRA adapters goes back to the separate projections, which the adapters patch — so
  they stay loaded beside the fused ones: 6.6 % more UNet parameters for SD 1.5, 25 % for
  SDXL (counted in the memory budget, which measures the loaded model).
* **attention backend** (``attention_backend``): PyTorch's scaled-dot-product attention
  already picks its fastest kernel for the inputs (flash, memory-efficient, cuDNN, math);
  naming one forces it, for measuring or for a kernel PyTorch ranks lower.
* **torch.compile** (``compile``, opt-in): the denoiser and the VAE decoder compiled by
  inductor, once per shape (size and batch), warmed up at worker start for the shapes the
  settings list; the compiled kernels are kept on disk (:func:`use_compile_cache`), so a
  restarted worker loads them instead of compiling again.
* **feature reuse** (``feature_reuse``, opt-in, the "fast" quality mode): DeepCache's
  observation that a UNet's deep features change little from one step to the next. Every
  ``feature_reuse``-th step runs the whole UNet; the steps between run only its outermost
  blocks and reuse the deep blocks' outputs from the last full step. Pictures change
  visibly (not within a level); benchmarks/RESULTS.md gives the measured speed-up and
  difference. It is not taken on a compiled UNet, which it would make recompile.

Text-embedding reuse lives in ``text_cache.py``; it changes nothing at all.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ATTENTION_BACKENDS = ("auto", "flash", "efficient", "cudnn", "math")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


@dataclass(frozen=True)
class FastPaths:
    """Which fast paths a worker's engine takes (see the module docstring for each)."""

    channels_last: bool = True
    fuse_qkv: bool = True
    attention_backend: str = "auto"
    text_cache: int = 64  # prompt encodings kept per loaded model; 0: none
    compile: bool = False
    compile_mode: str = "default"
    compile_dir: Path | None = None  # inductor's cache; None: PyTorch's own (a temporary dir)
    feature_reuse: int = 0  # run the whole UNet every N-th step; 0 or 1: every step

    def names(self) -> list[str]:
        """The fast paths that change float rounding, for a run's lineage."""
        chosen = [("channels_last", self.channels_last), ("fused_qkv", self.fuse_qkv),
                  ("compiled", self.compile)]  # fmt: skip
        names = [name for name, on in chosen if on]
        if self.attention_backend != "auto":
            names.append(f"attention_{self.attention_backend}")
        return names


EAGER = FastPaths(channels_last=False, fuse_qkv=False, text_cache=0)


def _denoiser(pipeline: Any) -> Any:
    return getattr(pipeline, "unet", None) or getattr(pipeline, "transformer", None)


def prepare(pipeline: Any, options: FastPaths) -> list[str]:
    """Apply the load-time fast paths to a freshly loaded image pipeline; the ones applied.

    A path a model cannot take (attention with added KV projections cannot fuse) is skipped
    and logged, never an error: the model still runs, eagerly.
    """
    import torch

    applied = []
    denoiser, vae = _denoiser(pipeline), getattr(pipeline, "vae", None)
    modules = [m for m in (denoiser, vae) if isinstance(m, torch.nn.Module)]
    if options.channels_last:
        # Only 2-D image models: a video-shaped VAE (Qwen-Image's) holds 5-D weights, which
        # have no channels-last layout.
        flat = [m for m in modules if all(p.dim() <= 4 for p in m.parameters())]
        for module in flat:
            module.to(memory_format=torch.channels_last)
        if flat:
            applied.append("channels_last")
    if options.fuse_qkv:
        fused = 0
        for module in modules:
            try:
                module.fuse_qkv_projections()  # type: ignore[operator]  # diffusers models only
                fused += 1
            except (AttributeError, ValueError, NotImplementedError) as exc:
                log.info("%s keeps separate QKV projections: %s", type(module).__name__, exc)
        if fused:
            applied.append("fused_qkv")
    if options.compile and denoiser is not None:
        use_compile_cache(options.compile_dir)
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
        torch.nn.Module.compile(denoiser, mode=options.compile_mode, dynamic=False)  # in place
        if vae is not None:
            vae.decode = torch.compile(vae.decode, mode=options.compile_mode, dynamic=False)
        applied.append("compiled")
    return applied


def use_compile_cache(directory: Path | None) -> None:
    """Keep inductor's compiled kernels (its FX graph and AOT autograd caches, Triton's
    kernels) in ``directory``, so the next start of a worker finds them instead of compiling
    again. A directory the environment names (``TORCHINDUCTOR_CACHE_DIR``) wins; PyTorch's own
    default, a temporary directory it may already have written into the environment, does not."""
    if directory is None:
        return
    import torch._inductor.config as inductor
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir
    from torch._inductor.utils import clear_caches

    current = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if current is None or os.path.abspath(current) == os.path.abspath(default_cache_dir()):
        directory.mkdir(parents=True, exist_ok=True)
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(directory)
        clear_caches()  # paths derived from the old directory are memoised
    inductor.fx_graph_cache = True


@contextlib.contextmanager
def running(pipeline: Any, options: FastPaths, adapters: bool = False) -> Iterator[None]:
    """The run-time fast paths around one pipeline call.

    ``adapters``: LoRA adapters are active, so fused projections (which the adapters do not
    patch) give way to the separate ones for this run.
    """
    with contextlib.ExitStack() as stack:
        if adapters:
            stack.enter_context(_unfused(_denoiser(pipeline)))
        if options.attention_backend != "auto":
            stack.enter_context(_attention(options.attention_backend))
        if reuses_features(pipeline, options):
            from sfumato.engine.feature_reuse import reusing

            stack.enter_context(reusing(pipeline.unet, options.feature_reuse))
        yield


def reuses_features(pipeline: Any, options: FastPaths) -> bool:
    """Whether runs of ``pipeline`` take feature reuse: a UNet's, and not a compiled one (the
    reuse switches blocks per step, which would make it recompile)."""
    return options.feature_reuse > 1 and not options.compile and getattr(pipeline, "unet", None) is not None


@contextlib.contextmanager
def _unfused(denoiser: Any) -> Iterator[None]:
    original = getattr(denoiser, "original_attn_processors", None)
    if not original:
        yield
        return
    fused = denoiser.attn_processors
    denoiser.set_attn_processor(dict(original))  # it empties the mapping it is given
    try:
        yield
    finally:
        denoiser.set_attn_processor(fused)


def _attention(name: str) -> Any:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    backend = {"flash": SDPBackend.FLASH_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION,
               "cudnn": SDPBackend.CUDNN_ATTENTION, "math": SDPBackend.MATH}[name]  # fmt: skip
    return sdpa_kernel([backend])
