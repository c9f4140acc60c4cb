#!/usr/bin/env python3
"""GPU benchmark for LoRA training and serving: SD1.5 architecture, real size, random weights.

The pipeline is gpu.py's (the released SD1.5 configs, random weights), so the arithmetic is
the real model's and nothing is downloaded. Two figures:

  * training: sfumato's own training loop (``sfumato.engine.train_lora``: LoRA on the UNet,
    noise-prediction loss on VAE latents, AdamW, fp16 autocast and gradient checkpointing on
    CUDA) at --resolution px, batch 1 — optimizer steps/s after --warmup steps. The published
    anchor: diffusers' LoRA recipe, 15,000 steps in about 5 h on an 11 GB 2080 Ti ≈ 0.83 steps/s.
  * serving: one 512 px generation (--gen-steps steps, fp16) with the trained LoRA applied
    through ``sfumato.engine.adapters`` (loaded onto the pipeline, activated, removed after
    the call, as a worker does for each job) against the same call without it: median
    latencies and their ratio (target ≤ 1.10).

Examples:
  python benchmarks/gpu_train.py --json train.json      # GPU
  python benchmarks/gpu_train.py --tiny --device cpu    # smoke test, seconds
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import gpu  # the released configs and the random-weight pipeline builder


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="tiny configs (a smoke test)")
    parser.add_argument("--resolution", type=int, default=None, help="training resolution (default 512)")
    parser.add_argument("--steps", type=int, default=50, help="timed optimizer steps")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--gen-steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default=None, help="write the results here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import torch
    from PIL import Image

    from sfumato.engine.adapters import Adapter, applied
    from sfumato.engine.train_lora import TrainingSpec, _Trainer

    args = parse_args(argv)
    resolution = args.resolution or (gpu.TINY_RESOLUTION if args.tiny else 512)
    dev = gpu.Device(args.device)
    cuda = args.device.startswith("cuda")
    with tempfile.TemporaryDirectory() as tokdir:
        pipe = gpu.build_pipeline("sd15", args.tiny, 0, tokdir, False, device=args.device)
    pipe.set_progress_bar_config(disable=True)
    pictures = [
        Image.new("RGB", (resolution, resolution), c) for c in ((200, 30, 30), (30, 200, 30), (30, 30, 200))
    ]
    spec = TrainingSpec(
        model_key="sd15", images=pictures, instance_prompt="a photo of sks", resolution=resolution,
        steps=args.warmup + args.steps, learning_rate=1e-4, rank=args.rank,
    )  # fmt: skip
    trainer = _Trainer(pipe, spec, args.device)
    for step in range(1, args.warmup + 1):
        trainer.step(step)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    for step in range(args.warmup + 1, args.warmup + args.steps + 1):
        trainer.step(step)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    train_peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
    lora = trainer.lora_file()

    # Serving: a fresh pipeline (no training wrappers), half precision on CUDA.
    with tempfile.TemporaryDirectory() as tokdir:
        serve = gpu.build_pipeline("sd15", args.tiny, 0, tokdir, False, device=args.device)
    serve.set_progress_bar_config(disable=True)
    if cuda:
        serve.to(dtype=torch.float16)
    adapter = Adapter(sha256=hashlib.sha256(lora).hexdigest(), weights=lora)
    gen_res = gpu.TINY_RESOLUTION if args.tiny else 512

    def call() -> None:
        generator = torch.Generator("cpu").manual_seed(0)
        serve(prompt=gpu.PROMPT, num_inference_steps=args.gen_steps, height=gen_res, width=gen_res,
              generator=generator, output_type="pil")  # fmt: skip
        if cuda:
            torch.cuda.synchronize()

    def timed(with_adapter: bool) -> float:
        started = time.perf_counter()
        if with_adapter:
            with applied(serve, [adapter]):
                call()
        else:
            call()
        return time.perf_counter() - started

    timed(False), timed(True)  # warm both paths
    plain, adapted = [], []
    for _ in range(args.repeats):  # in turns, so drift slows both alike
        plain.append(timed(False))
        adapted.append(timed(True))
    report = {
        "device": args.device,
        "tiny": args.tiny,
        "environment": gpu.environment(dev),
        "train": {
            "resolution": resolution, "batch_size": 1, "rank": args.rank, "steps": args.steps,
            "steps_per_s": args.steps / seconds, "peak_gib": train_peak,
            "anchor_steps_per_s": 0.83,
        },
        "serve": {
            "resolution": gen_res, "steps": args.gen_steps, "repeats": args.repeats,
            "median_s_without": statistics.median(plain), "median_s_with_adapter": statistics.median(adapted),
            "ratio": statistics.median(adapted) / statistics.median(plain),
        },
    }  # fmt: skip
    print(
        f"training: {report['train']['steps_per_s']:.3f} steps/s at {resolution} px, batch 1 "
        f"(anchor 0.83 on a 2080 Ti); peak {train_peak if train_peak is None else f'{train_peak:.1f} GiB'}"
    )
    print(
        f"serving: {report['serve']['median_s_without']:.3f} s without, "
        f"{report['serve']['median_s_with_adapter']:.3f} s with the LoRA, "
        f"ratio {report['serve']['ratio']:.3f}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
