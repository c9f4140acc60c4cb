#!/usr/bin/env python3
"""GPU check: the image-to-image and inpainting pipelines sfumato derives share the loaded
text-to-image pipeline's weights — no second copy in memory, and no cast.

For SD 1.5 at real size (random weights, built by benchmarks/gpu.py) in fp16 on the GPU it
records the memory allocated and the UNet's dtype and parameter storage before and after
``sfumato.engine.editing.derive`` and one image-to-image and one inpainting call, and times
those calls against text-to-image. Last, it shows the trap ``derive`` avoids: a pipeline
class's ``from_pipe`` without a dtype casts the shared modules to float32 in place.

    python3 benchmarks/edit_sharing.py --json out.json          # GPU
    python3 benchmarks/edit_sharing.py --tiny --device cpu       # smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import types

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
sys.path.insert(0, os.path.dirname(__file__))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()

    import torch
    from gpu import build_pipeline, write_tokenizer_files
    from PIL import Image

    from sfumato.engine.editing import derive

    cuda = args.device.startswith("cuda")
    dtype = torch.float16 if cuda else torch.float32
    size = 64 if args.tiny else args.size

    def allocated() -> int | None:
        if not cuda:
            return None
        torch.cuda.synchronize()
        return int(torch.cuda.memory_allocated())

    def storage(pipe: object) -> dict[str, int]:
        return {name: p.data_ptr() for name, p in pipe.unet.named_parameters()}  # type: ignore[attr-defined]

    with tempfile.TemporaryDirectory() as tokdir:
        pipe = build_pipeline("sd15", args.tiny, 0, write_tokenizer_files(tokdir), False, args.device)
    pipe.to(dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    loaded = types.SimpleNamespace(pipeline=pipe, key="sd15")
    report: dict[str, object] = {
        "device": args.device,
        "dtype": str(dtype),
        "size": size,
        "steps": args.steps,
    }
    if cuda:
        report["gpu"] = torch.cuda.get_device_name()
    pointers = storage(pipe)
    report["allocated_loaded"] = allocated()

    started = time.perf_counter()
    img2img = derive(loaded, "image_to_image")  # type: ignore[arg-type]
    inpaint = derive(loaded, "inpaint")  # type: ignore[arg-type]
    report["derive_seconds"] = round(time.perf_counter() - started, 4)
    report["allocated_after_derive"] = allocated()
    report["unet_shared"] = img2img.unet is pipe.unet and inpaint.unet is pipe.unet
    report["unet_dtype_after_derive"] = str(pipe.unet.dtype)
    report["storage_unchanged_after_derive"] = storage(pipe) == pointers

    picture = Image.effect_noise((size, size), 60).convert("RGB")
    mask = Image.new("L", (size, size), 0)
    mask.paste(255, (size // 4, size // 4, 3 * size // 4, 3 * size // 4))
    common = {"prompt": "a harbour at night", "num_inference_steps": args.steps, "guidance_scale": 7.0}
    calls = {
        "text_to_image": lambda: pipe(**common, width=size, height=size),
        "image_to_image_0.5": lambda: img2img(**common, image=picture, strength=0.5),
        "inpaint_1.0": lambda: inpaint(**common, image=picture, mask_image=mask, width=size, height=size),
    }
    timings = {}
    for name, call in calls.items():
        call()
        best = []
        for _ in range(args.repeats):
            if cuda:
                torch.cuda.synchronize()
            started = time.perf_counter()
            call()
            if cuda:
                torch.cuda.synchronize()
            best.append(time.perf_counter() - started)
        timings[name] = round(sorted(best)[len(best) // 2], 4)
    report["median_seconds"] = timings
    report["ratio_to_text_to_image"] = {k: round(v / timings["text_to_image"], 3) for k, v in timings.items()}
    report["allocated_after_runs"] = allocated()
    report["storage_unchanged_after_runs"] = storage(pipe) == pointers

    from diffusers import StableDiffusionImg2ImgPipeline

    StableDiffusionImg2ImgPipeline.from_pipe(pipe)  # a class's from_pipe, no dtype: the trap
    report["naive_from_pipe_unet_dtype"] = str(pipe.unet.dtype)
    report["allocated_after_naive_from_pipe"] = allocated()

    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
