"""``sfumato bench realtime``: what the realtime lane adds to an LCM pipeline call.

The same canvas request is timed two ways on the same machine, one request at a time:
through ``POST /generations-lcm`` on a live ``sfumato serve`` (HTTP, validation, the
credit ledger, the realtime lane of the job queue, the worker, blob storage and the wait
for the result), and as a direct call of the engine's LCM run on the same model. The
difference is the price of serving it as a job.

The requests go over one keep-alive connection of the benchmarks' lean client, their bytes
built before the clock starts: a full HTTP client's own work per request (about a
millisecond on a small CPU, for parsing the answer in Python) is the client's, not the
server's, and it would be counted as the server's.
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from sfumato.bench import app
from sfumato.bench.harness import API, DatabaseUrl, percentile, throwaway_server
from sfumato.bench.load_generator import BlockingConnection, post_request


@app.command("realtime")
def realtime(
    requests: int = typer.Option(50, help="Timed requests (and direct calls) after the warm-up."),
    warmup: int = typer.Option(5, help="Requests (and calls) first made and not counted."),
    model: str = typer.Option("tiny-lcm", help="The LCM model (a catalog key)."),
    size: int = typer.Option(64, help="Canvas width and height in pixels."),
    steps: int = typer.Option(4, help="LCM steps."),
    strength: float = typer.Option(0.75, help="How far from the canvas the result may go."),
    device: str = typer.Option("cpu", help="Torch device of both the server's worker and the direct calls."),
    database_url: DatabaseUrl = None,
) -> None:
    """Print p50/p95 latency of POST /generations-lcm and of a direct LCM call, and their difference."""
    from sfumato.config import Settings

    models_dir = Settings().resolved_models_dir
    canvas = _canvas(size)
    body = {"imageDataUrl": _data_url(canvas), "prompt": "a lighthouse at dusk", "width": size,
            "height": size, "steps": steps, "strength": strength, "seed": 1}  # fmt: skip
    settings = {"realtime_model": model, "models_dir": str(models_dir), "device": device}
    with throwaway_server(database_url, worker=True, settings=settings) as server:
        url = server.database_url
        [key] = server.keys(1)
        direct_call = _direct_call(model, models_dir, device, canvas, steps, strength)
        request = post_request(server.port, f"{API}/generations-lcm", body, key)
        connection = BlockingConnection(server.port)
        try:
            post = lambda: _post(connection, request)  # noqa: E731
            endpoint, direct = _time_interleaved(post, direct_call, warmup, requests)
        finally:
            connection.close()
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    typer.echo(
        f"model {model}, {size}×{size}, {steps} steps, strength {strength:g}, {device}, {backend}; "
        f"{requests} of each timed after {warmup} warm-up, one at a time, the two kinds taking turns"
    )
    typer.echo(f"{'':24}{'p50 ms':>10}{'p95 ms':>10}")
    rows = {"POST /generations-lcm": endpoint, "direct LCM call": direct}
    for name, values in rows.items():
        typer.echo(f"{name:24}{percentile(values, 50):>10.1f}{percentile(values, 95):>10.1f}")
    p50 = percentile(endpoint, 50) - percentile(direct, 50)
    p95 = percentile(endpoint, 95) - percentile(direct, 95)
    typer.echo(f"{'difference':24}{p50:>10.1f}{p95:>10.1f}")
    typer.echo(
        f"endpoint / direct at p50: {percentile(endpoint, 50) / max(percentile(direct, 50), 1e-9):.2f}×"
    )


def _post(connection: BlockingConnection, request: bytes) -> None:
    status, answer = connection.send(request)
    if status != 200:
        raise typer.BadParameter(f"the server answered {status}: {answer.decode(errors='replace')}")


def _direct_call(
    model: str, models_dir: Path, device: str, canvas: Any, steps: int, strength: float
) -> Callable[[], object]:
    from sfumato.config import Settings
    from sfumato.engine import Engine, lcm
    from sfumato.runtime import build_context

    catalog = build_context(Settings()).catalog
    engine = Engine(catalog, models_dir, device=device)
    entry = catalog.resolve(model)
    spec = lcm.CanvasSpec(model_key=entry.key if entry else model, prompt="a lighthouse at dusk",
                          image=canvas, steps=steps, guidance_scale=entry.default_guidance if entry else 8.0,
                          strength=strength, seed=1)  # fmt: skip
    return lambda: lcm.run(engine, spec)


def _time_interleaved(
    endpoint: Callable[[], object], direct: Callable[[], object], warmup: int, n: int
) -> tuple[list[float], list[float]]:
    """Milliseconds of ``n`` calls of each, taking turns: a machine whose speed drifts over a
    run (a shared one does) slows both series alike, so their ratio stays meaningful."""
    for _ in range(warmup):
        endpoint()
        direct()
    timings: tuple[list[float], list[float]] = ([], [])
    for _ in range(n):
        for call, series in zip((endpoint, direct), timings, strict=True):
            started = time.perf_counter()
            call()
            series.append((time.perf_counter() - started) * 1000)
    return timings


def _canvas(size: int) -> Any:
    import numpy as np
    from PIL import Image

    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8))


def _data_url(image: Any) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
