#!/usr/bin/env python3
"""GPU benchmark for sfumato's video families: LTX-Video (2B) and Wan 2.1 T2V 1.3B.

As benchmarks/gpu.py does for the image models, the denoisers and VAEs are built with RANDOM
weights at the REAL size (the released checkpoints' configs: Lightricks/LTX-Video 0.9.0,
Wan-AI/Wan2.1-T2V-1.3B-Diffusers), so nothing is downloaded; random weights do the same
arithmetic, so seconds and memory are those of the real models and the frames are noise.

The T5-XXL / UMT5-XXL text encoders (4.7 B / 5.7 B parameters) run once per clip and cost
little next to the denoising steps; by default the prompt embeddings are random tensors of the
encoders' output shape, so the script fits beside the denoiser on a 24 GB card. Pass
--with-text-encoder to build and time the encoders as well.

What it measures, per (model, dtype): seconds per clip (median of --repeats calls, after
--warmup untimed ones), seconds per denoising step, the VAE decode's share, and peak GPU memory.
Defaults are the sizes the models are published at:

  LTX-Video: 768×512, 121 frames (5 s at 24 fps), --steps-ltx 40. Published anchor: 5 s of
             24 fps 768×512 video in about 2 s on an H100 (the distilled few-step setup).
  Wan 2.1 1.3B: 832×480, 81 frames (5 s at 16 fps), --steps-wan 50.

Examples:
  python benchmarks/gpu_video.py --json video.json          # GPU, bf16, both models
  python benchmarks/gpu_video.py --models ltx --steps-ltx 8 # the few-step setting of the anchor
  python benchmarks/gpu_video.py --tiny --device cpu        # smoke test, seconds
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

# Lightricks/LTX-Video 0.9.0: the diffusers classes' defaults are the released configs.
LTX_TRANSFORMER: dict[str, Any] = {}
LTX_VAE: dict[str, Any] = {}
LTX_TEXT = {"seq": 128, "width": 4096}
# Wan-AI/Wan2.1-T2V-1.3B-Diffusers, transformer/config.json (the VAE's defaults are its config).
WAN_TRANSFORMER = {
    "patch_size": (1, 2, 2),
    "num_attention_heads": 12,
    "attention_head_dim": 128,
    "in_channels": 16,
    "out_channels": 16,
    "text_dim": 4096,
    "freq_dim": 256,
    "ffn_dim": 8960,
    "num_layers": 30,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "eps": 1e-6,
    "rope_max_seq_len": 1024,
}
WAN_VAE: dict[str, Any] = {}
WAN_TEXT = {"seq": 512, "width": 4096}
T5_XXL = {"d_model": 4096, "d_ff": 10240, "d_kv": 64, "num_heads": 64, "num_layers": 24,
          "feed_forward_proj": "gated-gelu", "vocab_size": 32128}  # fmt: skip
UMT5_XXL = {**T5_XXL, "vocab_size": 256384}

# Tiny stand-ins for a CPU smoke test of this script.
TINY = {
    "ltx": (
        {"in_channels": 8, "out_channels": 8, "num_attention_heads": 4, "attention_head_dim": 8,
         "cross_attention_dim": 32, "num_layers": 1, "caption_channels": 32},
        {"latent_channels": 8, "block_out_channels": (8, 8, 8, 8), "decoder_block_out_channels": (8, 8, 8, 8),
         "layers_per_block": (1, 1, 1, 1, 1), "decoder_layers_per_block": (1, 1, 1, 1, 1)},
        {"seq": 16, "width": 32},
    ),
    "wan": (
        {**WAN_TRANSFORMER, "num_attention_heads": 2, "attention_head_dim": 12, "text_dim": 32, "ffn_dim": 32,
         "num_layers": 2, "rope_max_seq_len": 32},
        {"base_dim": 3, "dim_mult": [1, 1, 1, 1], "num_res_blocks": 1},
        {"seq": 16, "width": 32},
    ),
}  # fmt: skip


def build(model: str, tiny: bool, dtype: Any, device: str, with_text: bool) -> tuple[Any, dict[str, int]]:
    """The pipeline with random weights, built on ``device``, and its parameter counts."""
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
        WanPipeline,
        WanTransformer3DModel,
    )

    torch.manual_seed(0)
    if model == "ltx":
        transformer_cfg, vae_cfg, _ = TINY["ltx"] if tiny else (LTX_TRANSFORMER, LTX_VAE, LTX_TEXT)
        with torch.device(device):
            transformer = LTXVideoTransformer3DModel(**transformer_cfg).to(dtype)
            vae = AutoencoderKLLTXVideo(**vae_cfg).to(dtype)
        text_encoder, tokenizer = _text(T5_XXL, with_text and not tiny, dtype, device, umt5=False)
        pipe = LTXPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=text_encoder,
                           tokenizer=tokenizer, transformer=transformer)  # fmt: skip
    else:
        transformer_cfg, vae_cfg, _ = TINY["wan"] if tiny else (WAN_TRANSFORMER, WAN_VAE, WAN_TEXT)
        with torch.device(device):
            transformer = WanTransformer3DModel(**transformer_cfg).to(dtype)
            vae = AutoencoderKLWan(**vae_cfg).to(torch.float32)  # Wan's VAE runs in float32
        text_encoder, tokenizer = _text(UMT5_XXL, with_text and not tiny, dtype, device, umt5=True)
        pipe = WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, transformer=transformer,
                           scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0))  # fmt: skip
    pipe.set_progress_bar_config(disable=True)
    parts = (("transformer", transformer), ("vae", vae), ("text_encoder", text_encoder))
    counts = {name: sum(p.numel() for p in part.parameters()) for name, part in parts if part is not None}
    return pipe, counts


def _text(config: dict[str, Any], build_it: bool, dtype: Any, device: str, *, umt5: bool) -> tuple[Any, Any]:
    if not build_it:
        return None, None
    import torch
    from transformers import AutoTokenizer, T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    with torch.device(device):
        encoder = (UMT5EncoderModel(UMT5Config(**config)) if umt5 else T5EncoderModel(T5Config(**config))).to(
            dtype
        )
    # A real T5 tokenizer is the one download this option needs (a few MB).
    tokenizer = AutoTokenizer.from_pretrained("google/umt5-xxl" if umt5 else "google-t5/t5-11b")
    return encoder, tokenizer


def clip(pipe: Any, model: str, args: argparse.Namespace, dtype: Any, device: str) -> dict[str, float]:
    """One clip, timed as a whole, per denoising step and for the decode."""
    import torch

    if model == "ltx":
        width, height, frames, steps = [*args.ltx_size, args.ltx_frames, args.steps_ltx]
    else:
        width, height, frames, steps = [*args.wan_size, args.wan_frames, args.steps_wan]
    if args.tiny:
        width, height, frames, steps = 64, 64, 9, 2
    text = TINY[model][2] if args.tiny else (LTX_TEXT if model == "ltx" else WAN_TEXT)
    kwargs: dict[str, Any] = {"width": width, "height": height, "num_frames": frames,
                              "num_inference_steps": steps, "output_type": "np",
                              "generator": torch.Generator("cpu").manual_seed(1)}  # fmt: skip
    if pipe.text_encoder is None:
        embeds = torch.randn(1, text["seq"], text["width"], device=device, dtype=dtype)
        kwargs.update(prompt_embeds=embeds, negative_prompt_embeds=torch.zeros_like(embeds))
        if model == "ltx":
            mask = torch.ones(1, text["seq"], device=device, dtype=torch.long)
            kwargs.update(prompt_attention_mask=mask, negative_prompt_attention_mask=mask)
    else:
        kwargs.update(prompt="a lighthouse at dusk, waves breaking", negative_prompt="blurry")
    if model == "ltx":
        kwargs["frame_rate"] = 24
    marks: list[float] = []

    def on_step(_pipe: Any, _index: int, _t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        _sync(device)
        marks.append(time.perf_counter())
        return tensors

    _sync(device)
    started = time.perf_counter()
    pipe(**kwargs, callback_on_step_end=on_step)
    _sync(device)
    ended = time.perf_counter()
    step_times = [b - a for a, b in zip([started, *marks[:-1]], marks, strict=True)]
    return {"seconds": ended - started, "step_seconds": statistics.median(step_times[1:] or step_times),
            "decode_seconds": ended - marks[-1], "width": width, "height": height, "frames": frames,
            "steps": steps}  # fmt: skip


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default="ltx,wan", help="comma list: ltx,wan")
    parser.add_argument("--dtype", default="bf16", help="comma list: bf16,fp16,fp32")
    parser.add_argument("--device", default=None, help="cuda (default when available) or cpu")
    parser.add_argument("--ltx-size", type=int, nargs=2, default=[768, 512], metavar=("W", "H"))
    parser.add_argument("--ltx-frames", type=int, default=121)
    parser.add_argument("--steps-ltx", type=int, default=40)
    parser.add_argument("--wan-size", type=int, nargs=2, default=[832, 480], metavar=("W", "H"))
    parser.add_argument("--wan-frames", type=int, default=81)
    parser.add_argument("--steps-wan", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--with-text-encoder", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="tiny configs for a CPU smoke test")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)

    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    results = []
    for model in args.models.split(","):
        for dtype_name in args.dtype.split(","):
            dtype = dtypes[dtype_name] if device != "cpu" or dtype_name == "fp32" else torch.float32
            pipe, counts = build(model, args.tiny, dtype, device, args.with_text_encoder)
            if device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            for _ in range(args.warmup):
                clip(pipe, model, args, dtype, device)
            runs = [clip(pipe, model, args, dtype, device) for _ in range(args.repeats)]
            peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None
            row = {"model": model, "dtype": dtype_name, "device": device, "parameters": counts,
                   **{k: runs[0][k] for k in ("width", "height", "frames", "steps")},
                   "seconds_per_clip": statistics.median(r["seconds"] for r in runs),
                   "seconds_per_step": statistics.median(r["step_seconds"] for r in runs),
                   "decode_seconds": statistics.median(r["decode_seconds"] for r in runs),
                   "peak_gib": peak}  # fmt: skip
            results.append(row)
            size = f"{row['width']}x{row['height']}x{row['frames']}"
            memory = "-" if peak is None else f"{peak:.1f} GiB"
            per_clip, per_step = row["seconds_per_clip"], row["seconds_per_step"]
            print(f"{model:4s} {dtype_name:5s} {size} {row['steps']} steps: {per_clip:.2f} s/clip, "
                  f"{per_step:.3f} s/step, decode {row['decode_seconds']:.2f} s, peak {memory}")  # fmt: skip
            del pipe
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            gpu = torch.cuda.get_device_name() if device.startswith("cuda") else None
            json.dump({"results": results, "torch": torch.__version__, "gpu": gpu}, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
