"""``sfumato bench editing``: upload throughput, and image-to-image/inpainting against
text-to-image on one model, in one run.

Uploads go through the configured blob backend exactly as a client sends them (presigned
form, file last, no credentials): to sfumato's own ``/uploads`` for the local backend (in
process, so the number is sfumato's handling, not a network's), to the bucket for S3.
"""

from __future__ import annotations

import io
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from sfumato.bench import app


@app.command("editing")
def editing(
    model: str = typer.Option("tiny-sd15", help="Catalog key of the model to time."),
    size: int = typer.Option(64, help="Output width and height."),
    steps: int = typer.Option(10, help="Inference steps of every run."),
    repeats: int = typer.Option(5, help="Timed runs per task (after one warm-up)."),
    uploads: int = typer.Option(20, help="Files to upload for the throughput figure."),
    upload_side: int = typer.Option(1024, help="Side of the uploaded noise PNGs (about 3 MB at 1024)."),
) -> None:
    """Print upload throughput and per-task latencies with their ratios to text-to-image."""
    _uploads(uploads, upload_side)
    _tasks(model, size, steps, repeats)


def _noise_png(side: int, seed: int) -> bytes:
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _uploads(count: int, side: int) -> None:
    import httpx
    from fastapi.testclient import TestClient

    from sfumato.app import create_app
    from sfumato.config import Settings
    from sfumato.runtime import build_context
    from sfumato.service.keys import issue_key

    files = [_noise_png(side, seed) for seed in range(count)]
    with tempfile.TemporaryDirectory(prefix="sfumato-bench-") as home:
        settings = Settings(home=Path(home), public_url="http://testserver", upload_max_bytes=64 << 20)
        if settings.database_url is None:
            from sfumato.store.migrate import upgrade

            upgrade(settings.resolved_database_url)
        ctx = build_context(settings)
        key = issue_key(ctx, username="bench").api_key
        headers = {"authorization": f"Bearer {key}"}
        with TestClient(create_app(settings, context=ctx, with_worker=False)) as client:
            started = time.perf_counter()
            for data in files:
                ticket = client.post("/api/rest/v1/init-image", json={"extension": "png"}, headers=headers)
                upload = ticket.json()["uploadInitImage"]
                sender = client if upload["url"].startswith("http://testserver") else httpx
                form = json.loads(upload["fields"])
                response = sender.post(upload["url"], data=form, files={"file": ("x.png", data)})
                response.raise_for_status()
            elapsed = time.perf_counter() - started
    megabytes = sum(len(f) for f in files) / 1e6
    typer.echo(
        f"uploads ({settings.blob_backend}): {count} files, {megabytes:.1f} MB in {elapsed:.2f} s = "
        f"{megabytes / elapsed:.1f} MB/s, {count / elapsed:.1f} uploads/s (form request + POST + checks)"
    )


def _tasks(model: str, size: int, steps: int, repeats: int) -> None:
    from PIL import Image

    from sfumato.config import Settings
    from sfumato.engine import Catalog, Engine, TextToImageSpec
    from sfumato.engine.img2img import ImageToImageSpec, image_to_image
    from sfumato.engine.inpaint import InpaintSpec, inpaint

    settings = Settings()
    engine = Engine(Catalog.load(), settings.resolved_models_dir, device=settings.device)
    picture = Image.open(io.BytesIO(_noise_png(size, 0)))
    mask = Image.new("L", (size, size), 0)
    mask.paste(255, (size // 4, size // 4, 3 * size // 4, 3 * size // 4))
    common: dict[str, Any] = {
        "model_key": model,
        "prompt": "a harbour at night",
        "negative_prompt": None,
        "width": size,
        "height": size,
        "steps": steps,
        "guidance_scale": 7.0,
        "seeds": (1,),
    }
    runs: dict[str, Callable[[], object]] = {
        "text-to-image": lambda: engine.text_to_image(TextToImageSpec(**common)),
        "image-to-image, strength 0.5": lambda: image_to_image(
            engine, ImageToImageSpec(**common, image=picture, strength=0.5)
        ),
        "image-to-image, strength 1.0": lambda: image_to_image(
            engine, ImageToImageSpec(**common, image=picture, strength=1.0)
        ),
        "inpaint, strength 1.0": lambda: inpaint(engine, InpaintSpec(**common, image=picture, mask=mask)),
    }
    medians = {}
    for name, run in runs.items():
        run()  # warm-up: loads the model, builds the pipeline's kernels
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
        medians[name] = statistics.median(times)
    base = medians["text-to-image"]
    device = engine.pipelines.device
    typer.echo(f"{model}, {size}×{size}, {steps} steps, device {device}, median of {repeats}:")
    for name, seconds in medians.items():
        typer.echo(f"  {name:30s} {seconds * 1000:8.1f} ms   {seconds / base:.2f}× text-to-image")
