#!/usr/bin/env python3
"""GPU benchmark for the pipelines sfumato serves: SD1.5, SDXL, FLUX.1 [schnell], SD 3.5 Medium.

The pipelines are built with RANDOM weights at the REAL size: every config
below is the one the released checkpoints ship with (runwayml/stable-diffusion-v1-5,
stabilityai/stable-diffusion-xl-base-1.0), written out here so that nothing has
to be downloaded. Random weights do the same arithmetic as trained ones, so
latency, throughput and memory are those of the real models; the pictures are
noise.

What it measures, for every (dtype, model):
  * per-image latency: one call with one prompt, median of --repeats calls;
  * for every batch size B > 1: one call over B prompts (one torch.Generator
    per image) against B calls of one prompt each, as images/s, and the ratio
    batched / one-by-one;
  * peak GPU memory (torch.cuda.max_memory_allocated).

Every call decodes with the VAE and returns PIL images, as a real request does.

FLUX.1 [schnell] (4 steps, no guidance) and SD 3.5 Medium (40 steps, guidance 4.5) come from
gpu_families.py, which also gives every run its analytic floor: the FLOPs of one call
(counted during it) over the GPU's peak dense half-precision rate (a table by GPU name, or
--peak-tflops); seconds per image are reported as ratios to that floor.

Examples:
  python benchmarks/gpu.py --json results.json                 # GPU, fp16, sd15+sdxl
  python benchmarks/gpu.py --dtype fp16,bf16 --json out.json   # both half types
  python benchmarks/gpu.py --tiny --device cpu                 # smoke test, seconds
  python benchmarks/gpu.py --count-only                        # parameter counts (meta device)
  python benchmarks/gpu.py --models flux-schnell,sd35-medium --dtype bf16 --json families.json
  python benchmarks/gpu.py --engine --json engine.json          # through Engine: eager vs fast paths
  python benchmarks/gpu.py --engine --tiny --device cpu         # the same, tiny, on a CPU

--engine (gpu_engine.py) runs SD 1.5 and SDXL through sfumato's Engine instead of a bare
pipeline, eager against each fast path, and prints the figures against the issue's targets,
the published anchors and the analytic floor.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from typing import Any

import gpu_families as families

# --------------------------------------------------------------------------
# Configs of the released checkpoints (real size)
# --------------------------------------------------------------------------

# runwayml/stable-diffusion-v1-5, unet/config.json
SD15_UNET = {
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 768,
    "down_block_types": [
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": [
        "UpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
    ],
}

# runwayml/stable-diffusion-v1-5, vae/config.json
SD15_VAE = {
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 512,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "scaling_factor": 0.18215,
}

# openai/clip-vit-large-patch14 text tower (SD1.5 text_encoder, SDXL text_encoder)
CLIP_L_TEXT = {
    "vocab_size": 49408,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-05,
    "projection_dim": 768,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "pad_token_id": 1,
}

# stabilityai/stable-diffusion-xl-base-1.0, unet/config.json
SDXL_UNET = {
    "act_fn": "silu",
    "addition_embed_type": "text_time",
    "addition_embed_type_num_heads": 64,
    "addition_time_embed_dim": 256,
    "attention_head_dim": [5, 10, 20],
    "block_out_channels": [320, 640, 1280],
    "center_input_sample": False,
    "class_embed_type": None,
    "class_embeddings_concat": False,
    "conv_in_kernel": 3,
    "conv_out_kernel": 3,
    "cross_attention_dim": 2048,
    "cross_attention_norm": None,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "downsample_padding": 1,
    "dual_cross_attention": False,
    "encoder_hid_dim": None,
    "encoder_hid_dim_type": None,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_only_cross_attention": None,
    "mid_block_scale_factor": 1,
    "mid_block_type": "UNetMidBlock2DCrossAttn",
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "num_attention_heads": None,
    "num_class_embeds": None,
    "only_cross_attention": False,
    "out_channels": 4,
    "projection_class_embeddings_input_dim": 2816,
    "resnet_out_scale_factor": 1.0,
    "resnet_skip_time_act": False,
    "resnet_time_scale_shift": "default",
    "sample_size": 128,
    "time_cond_proj_dim": None,
    "time_embedding_act_fn": None,
    "time_embedding_dim": None,
    "time_embedding_type": "positional",
    "timestep_post_act": None,
    "transformer_layers_per_block": [1, 2, 10],
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    "upcast_attention": None,
    "use_linear_projection": True,
}

# stabilityai/stable-diffusion-xl-base-1.0, vae/config.json
# (force_upcast: the stock SDXL VAE is decoded in float32 when the pipeline runs in fp16)
SDXL_VAE = dict(SD15_VAE, sample_size=1024, scaling_factor=0.13025, force_upcast=True)

# laion/CLIP-ViT-bigG-14 text tower with projection (SDXL text_encoder_2)
CLIP_BIGG_TEXT = {
    "vocab_size": 49408,
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "num_hidden_layers": 32,
    "num_attention_heads": 20,
    "max_position_embeddings": 77,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-05,
    "projection_dim": 1280,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "pad_token_id": 1,
}

# Scheduler betas shared by SD1.5 and SDXL
SCHEDULER = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "prediction_type": "epsilon",
}

# Parameter counts of the released checkpoints, printed next to ours.
REAL_PARAMS = {
    "sd15": {"unet": 859_520_964, "vae": 83_653_863, "text_encoder": 123_060_480},
    "sdxl": {
        "unet": 2_567_463_684,
        "vae": 83_653_863,
        "text_encoder": 123_060_480,
        "text_encoder_2": 694_659_840,
    },
}

# --------------------------------------------------------------------------
# Tiny configs (CPU smoke test of the same code path)
# --------------------------------------------------------------------------

TINY_TEXT = {
    "vocab_size": 1000,
    "hidden_size": 32,
    "intermediate_size": 37,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "max_position_embeddings": 77,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-05,
    "projection_dim": 32,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "pad_token_id": 1,
}

TINY_VAE = {
    "act_fn": "silu",
    "block_out_channels": [32, 64],
    "down_block_types": ["DownEncoderBlock2D"] * 2,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 1,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 64,
    "up_block_types": ["UpDecoderBlock2D"] * 2,
}

TINY_SD15_UNET = {
    "block_out_channels": [32, 64],
    "layers_per_block": 2,
    "sample_size": 32,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
    "cross_attention_dim": 32,
    "norm_num_groups": 32,
}

TINY_SDXL_UNET = {
    "block_out_channels": [32, 64],
    "layers_per_block": 2,
    "sample_size": 32,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
    "attention_head_dim": [2, 4],
    "use_linear_projection": True,
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 8,
    "transformer_layers_per_block": [1, 2],
    "projection_class_embeddings_input_dim": 80,  # 6 * 8 + 32
    "cross_attention_dim": 64,  # 32 + 32
    "norm_num_groups": 32,
}

RESOLUTION = {"sd15": 512, "sdxl": 1024, **families.RESOLUTION}
TINY_RESOLUTION = 64

DTYPES = ("fp16", "bf16", "fp32")


# --------------------------------------------------------------------------
# Offline tokenizer
# --------------------------------------------------------------------------


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode character table."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs], strict=True))


def write_tokenizer_files(directory: str) -> str:
    """Write a CLIP byte-level vocab without merges: every character is a token.

    The two special tokens come last so that they hold the highest ids, as in the
    real CLIP vocab (the text model's legacy eos lookup takes the argmax id).
    """
    chars = list(bytes_to_unicode().values())
    vocab: dict[str, int] = {}
    for c in chars:
        vocab[c] = len(vocab)
    for c in chars:
        vocab[c + "</w>"] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(directory, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
    return directory


def build_tokenizer(directory: str, pad_token: str | None = None):
    from transformers import CLIPTokenizer

    kwargs: dict[str, Any] = {"model_max_length": 77}
    if pad_token is not None:
        kwargs["pad_token"] = pad_token
    return CLIPTokenizer.from_pretrained(directory, **kwargs)


# --------------------------------------------------------------------------
# Pipelines
# --------------------------------------------------------------------------


def torch_dtype(name: str):
    import torch

    return {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[name]


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def _text_encoder(cfg: dict, with_projection: bool, seed: int):
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    config = CLIPTextConfig(**cfg)
    cls = CLIPTextModelWithProjection if with_projection else CLIPTextModel
    return cls(config)


def build_pipeline(model: str, tiny: bool, seed: int, tokdir: str, sdxl_vae_fp16: bool, device: str = "cpu"):
    """Build a pipeline with random weights, the models constructed directly on `device`."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )

    if model in families.MODELS:
        clip = {"l": CLIP_L_TEXT, "bigg": CLIP_BIGG_TEXT, "tokenizer": lambda: build_tokenizer(tokdir)}
        return families.build(model, tiny, seed, device, clip)
    scheduler = EulerDiscreteScheduler(**SCHEDULER)  # host tensors, outside the device context
    on = torch.device(device)
    if model == "sd15":
        with on:
            torch.manual_seed(seed)
            unet = UNet2DConditionModel(**(TINY_SD15_UNET if tiny else SD15_UNET))
            torch.manual_seed(seed + 1)
            vae = AutoencoderKL(**(TINY_VAE if tiny else SD15_VAE))
            te = _text_encoder(TINY_TEXT if tiny else CLIP_L_TEXT, False, seed + 2)
        return StableDiffusionPipeline(
            vae=vae,
            text_encoder=te,
            tokenizer=build_tokenizer(tokdir),
            unet=unet,
            scheduler=scheduler,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    if model == "sdxl":
        vae_cfg = dict(TINY_VAE if tiny else SDXL_VAE)
        if sdxl_vae_fp16:
            vae_cfg["force_upcast"] = False
        with on:
            torch.manual_seed(seed)
            unet = UNet2DConditionModel(**(TINY_SDXL_UNET if tiny else SDXL_UNET))
            torch.manual_seed(seed + 1)
            vae = AutoencoderKL(**vae_cfg)
            te = _text_encoder(TINY_TEXT if tiny else CLIP_L_TEXT, False, seed + 2)
            te2 = _text_encoder(TINY_TEXT if tiny else CLIP_BIGG_TEXT, True, seed + 3)
        return StableDiffusionXLPipeline(
            vae=vae,
            text_encoder=te,
            text_encoder_2=te2,
            tokenizer=build_tokenizer(tokdir),
            tokenizer_2=build_tokenizer(tokdir, pad_token="!"),
            unet=unet,
            scheduler=scheduler,
            add_watermarker=False,
        )
    raise ValueError(f"unknown model {model!r}")


def param_counts(pipe, model: str) -> dict[str, int]:
    import torch

    names = [name for name, part in pipe.components.items() if isinstance(part, torch.nn.Module)]
    counts = {name: n_params(getattr(pipe, name)) for name in names}
    counts["total"] = sum(counts.values())
    return counts


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------


class Device:
    def __init__(self, name: str):
        import torch

        self.name = name
        self.torch = torch
        self.is_cuda = name.startswith("cuda")

    def sync(self) -> None:
        if self.is_cuda:
            self.torch.cuda.synchronize()

    def reset_peak(self) -> None:
        if self.is_cuda:
            self.torch.cuda.reset_peak_memory_stats()

    def peak_gib(self) -> float | None:
        if self.is_cuda:
            return self.torch.cuda.max_memory_allocated() / 2**30
        return None

    def allocated_gib(self) -> float | None:
        if self.is_cuda:
            return self.torch.cuda.memory_allocated() / 2**30
        return None

    def free(self) -> None:
        gc.collect()
        if self.is_cuda:
            self.torch.cuda.empty_cache()


PROMPT = "a watercolor painting of a lighthouse on a cliff at dusk, soft light"


def make_generators(dev: Device, n: int, seed: int):
    import torch

    gen_device = dev.name if dev.is_cuda else "cpu"
    return [torch.Generator(device=gen_device).manual_seed(seed + i) for i in range(n)]


def timed_call(
    pipe,
    dev: Device,
    n_prompts: int,
    steps: int,
    res: int,
    seed: int,
    output_type: str,
    extra: dict | None = None,
):
    prompts = [f"{PROMPT}, variation {i}" for i in range(n_prompts)]
    gens = make_generators(dev, n_prompts, seed)
    dev.sync()
    t0 = time.perf_counter()
    out = pipe(
        prompt=prompts,
        num_inference_steps=steps,
        height=res,
        width=res,
        generator=gens,
        output_type=output_type,
        **(extra or {}),
    )
    dev.sync()
    dt = time.perf_counter() - t0
    images = out.images
    if len(images) != n_prompts:
        raise RuntimeError(f"expected {n_prompts} images, got {len(images)}")
    return dt, images


def summary(values: list[float]) -> dict:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "all": values,
    }


def bench_one(pipe, model: str, dev: Device, args, res: int) -> dict:
    import numpy as np

    if model in families.MODELS:
        steps = args.steps or families.DEFAULT_STEPS[model]
    else:
        steps = args.steps_sd15 if model == "sd15" else args.steps_sdxl
    extra = families.CALL_KWARGS.get(model, {})
    result: dict = {"steps": steps, "resolution": res}

    def call(n: int, seed: int, output_type: str):
        return timed_call(pipe, dev, n, steps, res, seed, output_type, extra)

    # Warm-up at batch 1, counting denoiser evaluations and checking the pixels once.
    unet_calls = [0]
    denoiser = getattr(pipe, "unet", None) or pipe.transformer
    hook = denoiser.register_forward_pre_hook(lambda *_: unet_calls.__setitem__(0, unet_calls[0] + 1))
    dev.reset_peak()
    warm_times = []
    for i in range(max(args.warmup, 1)):
        unet_calls[0] = 0
        dt, images = call(1, args.seed + 1000 + i, "np")
        warm_times.append(dt)
    hook.remove()
    arr = np.asarray(images)
    result["warmup_s"] = warm_times
    result["unet_evals_per_call"] = unet_calls[0]
    result["output_shape"] = list(arr.shape)
    result["output_finite_fraction"] = float(np.isfinite(arr).mean())
    # The analytic floor: this call's FLOPs at the device's peak rate.
    result["flops_per_image"] = families.count_flops(pipe, lambda: call(1, args.seed, "np"))
    peak = families.peak_flops(_gpu_name(dev), args.peak_tflops)
    result["peak_flops"] = peak
    result["floor_s_per_image"] = None if peak is None else result["flops_per_image"] / peak

    # Per-image latency: batch 1, one call per repeat.
    dev.reset_peak()
    lat = []
    for r in range(args.repeats):
        dt, _ = call(1, args.seed + r, args.output_type)
        lat.append(dt)
        log(f"    b=1 repeat {r + 1}/{args.repeats}: {dt:.3f} s")
    result["latency_b1_s"] = summary(lat)
    result["peak_gib_b1"] = dev.peak_gib()
    result["b1_over_floor"] = _over_floor(result["latency_b1_s"]["median"], result["floor_s_per_image"])

    result["batches"] = {}
    for b in args.batch:
        if b == 1:
            continue
        entry: dict = {}
        # Batched: one call over B prompts, one generator per image.
        dev.reset_peak()
        for i in range(args.warmup):
            dt, _ = call(b, args.seed + 2000 + i, args.output_type)
            log(f"    b={b} batched warm-up: {dt:.3f} s")
        batched = []
        for r in range(args.repeats):
            dt, _ = call(b, args.seed + r * b, args.output_type)
            batched.append(dt)
            log(f"    b={b} batched repeat {r + 1}/{args.repeats}: {dt:.3f} s")
        entry["peak_gib"] = dev.peak_gib()
        # One by one: B calls of one prompt each.
        one = []
        for r in range(args.repeats):
            t = 0.0
            for i in range(b):
                dt, _ = call(1, args.seed + r * b + i, args.output_type)
                t += dt
            one.append(t)
            log(f"    b={b} one-by-one repeat {r + 1}/{args.repeats}: {t:.3f} s for {b} images")
        entry["batched_call_s"] = summary(batched)
        entry["one_by_one_total_s"] = summary(one)
        entry["batched_images_per_s"] = b / entry["batched_call_s"]["median"]
        entry["one_by_one_images_per_s"] = b / entry["one_by_one_total_s"]["median"]
        entry["ratio_batched_over_one_by_one"] = (
            entry["batched_images_per_s"] / entry["one_by_one_images_per_s"]
        )
        entry["batched_s_per_image"] = entry["batched_call_s"]["median"] / b
        entry["batched_over_floor"] = _over_floor(entry["batched_s_per_image"], result["floor_s_per_image"])
        result["batches"][str(b)] = entry
    return result


def _over_floor(seconds: float, floor: float | None) -> float | None:
    return None if floor is None else seconds / floor


def _gpu_name(dev: Device) -> str | None:
    if not dev.is_cuda:
        return None
    return str(dev.torch.cuda.get_device_name(dev.torch.device(dev.name)))


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------

_T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - _T0:7.1f}s] {msg}", flush=True)


def environment(dev: Device) -> dict:
    import torch

    env = {
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "device": dev.name,
    }
    for mod in ("diffusers", "transformers", "accelerate"):
        try:
            env[mod] = __import__(mod).__version__
        except Exception:
            env[mod] = None
    if dev.is_cuda:
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        env["gpu_name"] = props.name
        env["gpu_total_memory_gib"] = props.total_memory / 2**30
        env["gpu_multiprocessors"] = props.multi_processor_count
        env["gpu_capability"] = f"{props.major}.{props.minor}"
        try:
            env["nvidia_smi"] = subprocess.run(
                [
                    "nvidia-smi",
                    "--query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit",
                    "--format=csv,noheader",
                ],
                capture_output=True,
                text=True,
                timeout=20,
            ).stdout.strip()
        except Exception:
            env["nvidia_smi"] = None
    return env


def fmt(x, spec=".3f", none="-") -> str:
    return none if x is None else format(x, spec)


def print_table(report: dict) -> None:
    rows = []
    header = [
        "model",
        "dtype",
        "res",
        "steps",
        "params (M)",
        "b1 s/img",
        "B",
        "batched img/s",
        "1-by-1 img/s",
        "ratio",
        "s/img ÷ floor",
        "peak GiB",
    ]
    for run in report["runs"]:
        if "error" in run:
            rows.append([run["model"], run["dtype"], "-", "-", "-", "ERROR", "-", "-", "-", "-", "-", "-"])
            continue
        r = run["result"]
        params = f"{run['params']['total'] / 1e6:.1f}"
        lat = fmt(r["latency_b1_s"]["median"])
        base = [run["model"], run["dtype"], str(r["resolution"]), str(r["steps"]), params, lat]
        b1_ips = 1.0 / r["latency_b1_s"]["median"]
        over = fmt(r.get("b1_over_floor"), ".1f")
        rows.append([*base, "1", fmt(b1_ips, ".3f"), "-", "-", over, fmt(r["peak_gib_b1"], ".2f")])
        for b, e in r["batches"].items():
            rows.append(
                [
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    b,
                    fmt(e["batched_images_per_s"]),
                    fmt(e["one_by_one_images_per_s"]),
                    fmt(e["ratio_batched_over_one_by_one"], ".2f"),
                    fmt(e.get("batched_over_floor"), ".1f"),
                    fmt(e["peak_gib"], ".2f"),
                ]
            )
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = "  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))
    print()
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    print()


def write_json(path: str | None, report: dict) -> None:
    if not path:
        return
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    os.replace(tmp, path)


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def csv_list(kind):
    def parse(text: str):
        return [kind(x.strip()) for x in text.split(",") if x.strip()]

    return parse


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Benchmark SD1.5- and SDXL-architecture pipelines (random weights, real size).",
    )
    p.add_argument(
        "--models",
        type=csv_list(str),
        default=["sd15", "sdxl"],
        help="comma list: sd15,sdxl,flux-schnell,sd35-medium",
    )
    p.add_argument(
        "--peak-tflops",
        type=float,
        default=None,
        help="the GPU's peak dense half-precision TFLOPS for the floor (default: by GPU name)",
    )
    p.add_argument(
        "--dtype",
        type=csv_list(str),
        default=None,
        help="comma list of fp16,bf16,fp32 (default: fp16 on CUDA, fp32 on CPU)",
    )
    p.add_argument(
        "--steps", type=int, default=None, help="denoising steps for every model (overrides the two below)"
    )
    p.add_argument("--steps-sd15", type=int, default=20)
    p.add_argument("--steps-sdxl", type=int, default=20)
    p.add_argument("--batch", type=csv_list(int), default=[1, 4], help="comma list of batch sizes")
    p.add_argument("--warmup", type=int, default=2, help="untimed calls first; 1 leaves timings inflated")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--resolution",
        type=int,
        default=None,
        help="override the image size (default: 512 for sd15, 1024 for sdxl, 64 with --tiny)",
    )
    p.add_argument("--output-type", default="pil", choices=["pil", "np"])
    p.add_argument("--device", default=None, help="cuda (default when available) or cpu")
    p.add_argument("--tiny", action="store_true", help="tiny configs for a CPU smoke test")
    p.add_argument(
        "--count-only", action="store_true", help="build on the meta device and print parameter counts only"
    )
    p.add_argument(
        "--sdxl-vae-fp16",
        action="store_true",
        help="decode SDXL in the pipeline dtype (as with an fp16-fixed VAE) instead of float32",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--time-budget",
        type=float,
        default=None,
        help="seconds; do not start another (dtype, model) run once this much time has passed",
    )
    p.add_argument("--json", default=None, help="write the full results as JSON to this path")
    p.add_argument("--engine", action="store_true", help="through sfumato's Engine: eager vs fast paths")
    p.add_argument(
        "--variants",
        type=csv_list(str),
        default=None,
        help="--engine: comma list of eager,fast,compiled,fast-mode "
        "(default all on CUDA, no compiled on CPU)",
    )
    p.add_argument("--engine-batch", type=int, default=8, help="--engine: SD 1.5 jobs batched into one call")
    p.add_argument(
        "--engine-dir", default=None, help="--engine: keep the saved models (and compile cache) here"
    )
    args = p.parse_args(argv)
    if args.steps is not None:
        args.steps_sd15 = args.steps_sdxl = args.steps
    for m in args.models:
        if m not in RESOLUTION:
            p.error(f"unknown model {m!r} ({', '.join(RESOLUTION)})")
    for d in args.dtype or []:
        if d not in DTYPES:
            p.error(f"unknown dtype {d!r} ({', '.join(DTYPES)})")
    if any(b < 1 for b in args.batch) or 1 not in args.batch:
        args.batch = sorted(set([1] + [b for b in args.batch if b >= 1]))
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    return args


def count_only(args, tokdir: str) -> int:
    for model in args.models:
        pipe = build_pipeline(model, args.tiny, args.seed, tokdir, args.sdxl_vae_fp16, device="meta")
        counts = param_counts(pipe, model)
        print(f"{model}:")
        for name, n in counts.items():
            real = {**REAL_PARAMS, **families.REAL_PARAMS}.get(model, {}).get(name)
            extra = "" if args.tiny or real is None else f"  (released checkpoint: {real:,})"
            print(f"  {name:15s} {n:>15,}{extra}")
        del pipe
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", category=RuntimeWarning)  # random weights can give NaN pixels
    warnings.filterwarnings("ignore", category=FutureWarning)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import diffusers
    import torch
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.set_verbosity_error()
    torch.set_grad_enabled(False)

    tmp = tempfile.TemporaryDirectory(prefix="sfumato-bench-tok-")
    tokdir = write_tokenizer_files(tmp.name)

    if args.count_only:
        return count_only(args, tokdir)
    if args.engine:
        import gpu_engine

        return gpu_engine.main(args, tokdir)

    device_name = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device_name.startswith("cuda") and not torch.cuda.is_available():
        print("CUDA is not available; pass --device cpu (with --tiny) for a smoke test", file=sys.stderr)
        return 2
    dev = Device(device_name)
    if args.dtype is None:
        args.dtype = ["fp16"] if dev.is_cuda else ["fp32"]

    report: dict = {
        "benchmark": "sfumato benchmarks/gpu.py",
        "note": "random weights at the released checkpoints' sizes; latency and memory match real models",
        "argv": sys.argv,
        "args": {k: v for k, v in vars(args).items()},
        "environment": environment(dev),
        "runs": [],
        "skipped": [],
    }
    env = report["environment"]
    gpu = f" ({env['gpu_name']})" if env.get("gpu_name") else ""
    log(
        f"device {dev.name}{gpu}; torch {env['torch']} (CUDA {env['torch_cuda']}); "
        f"diffusers {env['diffusers']}; transformers {env['transformers']}"
    )
    if env.get("nvidia_smi"):
        log(f"nvidia-smi: {env['nvidia_smi']}")
    write_json(args.json, report)

    for dtype_name in args.dtype:
        dtype = torch_dtype(dtype_name)
        for model in args.models:
            elapsed = time.perf_counter() - _T0
            if args.time_budget is not None and elapsed > args.time_budget:
                log(
                    f"skip {model} {dtype_name}: {elapsed:.0f}s elapsed "
                    f"> --time-budget {args.time_budget:.0f}s"
                )
                report["skipped"].append({"model": model, "dtype": dtype_name, "reason": "time budget"})
                write_json(args.json, report)
                continue
            res = args.resolution or (TINY_RESOLUTION if args.tiny else RESOLUTION[model])
            run: dict = {"model": model, "dtype": dtype_name, "tiny": args.tiny}
            report["runs"].append(run)
            pipe = None
            try:
                log(f"== {model} {dtype_name} {res}x{res}: building random weights on {dev.name}")
                dev.free()
                dev.reset_peak()
                t0 = time.perf_counter()
                # Build in float32 directly on the device, then cast: every initialiser
                # supports float32 and no weights travel from the host.
                pipe = build_pipeline(
                    model, args.tiny, args.seed, tokdir, args.sdxl_vae_fp16, device=dev.name
                )
                pipe.to(dev.name, dtype)
                pipe.set_progress_bar_config(disable=True)
                dev.sync()
                run["build_s"] = time.perf_counter() - t0
                run["params"] = param_counts(pipe, model)
                run["weights_gib"] = dev.allocated_gib()
                denoiser = getattr(pipe, "unet", None) or pipe.transformer
                run["attention_processor"] = type(next(iter(denoiser.attn_processors.values()))).__name__
                run["vae_force_upcast"] = bool(getattr(pipe.vae.config, "force_upcast", False))
                for name, n in run["params"].items():
                    real = None if args.tiny else {**REAL_PARAMS, **families.REAL_PARAMS}[model].get(name)
                    extra = (
                        ""
                        if real is None
                        else f"  (released checkpoint: {real:,}{'' if real == n else ' MISMATCH'})"
                    )
                    log(f"   {name:15s} {n:>15,} params{extra}")
                log(
                    f"   built in {run['build_s']:.1f}s; weights {fmt(run['weights_gib'], '.2f')} GiB; "
                    f"attention {run['attention_processor']}; VAE force_upcast={run['vae_force_upcast']}"
                )
                run["result"] = bench_one(pipe, model, dev, args, res)
                r = run["result"]
                log(
                    f"   {fmt(r['flops_per_image'] / 1e12, '.1f')} TFLOP/image; floor "
                    f"{fmt(r['floor_s_per_image'])} s/image; "
                    f"b1 at {fmt(r['b1_over_floor'], '.1f')}× the floor"
                )
                log(
                    f"   denoiser evals/call {r['unet_evals_per_call']}; "
                    f"finite pixels {r['output_finite_fraction']:.3f}; "
                    f"b1 median {r['latency_b1_s']['median']:.3f} s/img; "
                    f"peak b1 {fmt(r['peak_gib_b1'], '.2f')} GiB"
                )
                for b, e in r["batches"].items():
                    log(
                        f"   B={b}: batched {e['batched_images_per_s']:.3f} img/s, one-by-one "
                        f"{e['one_by_one_images_per_s']:.3f} img/s, "
                        f"ratio {e['ratio_batched_over_one_by_one']:.2f}, "
                        f"peak {fmt(e['peak_gib'], '.2f')} GiB"
                    )
                run["peak_gib"] = max(
                    [
                        x
                        for x in [r["peak_gib_b1"], *(e["peak_gib"] for e in r["batches"].values())]
                        if x is not None
                    ],
                    default=None,
                )
            except Exception as exc:
                run["error"] = f"{type(exc).__name__}: {exc}"
                run["traceback"] = traceback.format_exc()
                log(f"   ERROR {run['error']}")
                traceback.print_exc()
            finally:
                del pipe
                dev.free()
                write_json(args.json, report)

    report["total_s"] = time.perf_counter() - _T0
    write_json(args.json, report)
    print_table(report)
    if args.json:
        log(f"wrote {args.json}")
    tmp.cleanup()
    return 1 if any("error" in r for r in report["runs"]) else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--engine-start"]:  # one timed worker start (gpu_engine.compile_starts)
        import gpu_engine

        sys.exit(gpu_engine.start(sys.argv[2:]))
    sys.exit(main())
