"""``sfumato bench e2e``: jobs through HTTP, the queue and a worker, against a bare diffusers loop.

``--clients`` clients, each an account of its own, submit ``--jobs`` text-to-image jobs
between them to a real ``sfumato serve`` (API and worker in one process, the embedded
shape) and poll until every job is COMPLETE; the clock runs from the first submission to
the last completion a client sees. The same jobs then run as a plain loop of diffusers
pipeline calls in this process, one job per call, on the same tiny model with the same
scheduler, seeds, size and steps. Both throughputs are printed, and their ratio.

A second phase measures the claim latency: jobs submitted one at a time to the idle
worker, each job's time from enqueue to start as the job ledger recorded it.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import typer

from sfumato.bench import app
from sfumato.bench.harness import (
    API,
    Connection,
    Server,
    database,
    get_request,
    percentile,
    post_request,
    progress,
    run_async,
    serve,
)

PROMPTS = ("a lighthouse at dusk", "a red fox in snow", "a bowl of ramen", "a city at night")


@app.command("e2e")
def e2e(
    jobs: int = typer.Option(200, help="Jobs to run both ways."),
    clients: int = typer.Option(8, help="Concurrent clients, one account each."),
    model: str = typer.Option("tiny-sd15", help="Catalog key of the model."),
    size: int = typer.Option(64, help="Width and height of every image."),
    steps: int = typer.Option(10, help="Inference steps of every job."),
    batch_size: int = typer.Option(8, help="SFUMATO_BATCH_SIZE of the server's worker."),
    poll: float = typer.Option(0.05, help="Seconds between a client's status polls."),
    latency_jobs: int = typer.Option(20, help="Jobs for the claim-latency phase (0 to skip)."),
    threads: int = typer.Option(1, help="torch CPU threads, the same on both sides."),
    database_url: str = typer.Option(
        None, help="Default: a temporary SQLite file. A PostgreSQL URL runs in a fresh schema."
    ),
) -> None:
    """Print sfumato's and a bare diffusers loop's throughput, their ratio, and claim latency."""
    from sfumato.config import Settings

    specs = [_spec(n, model, size, steps) for n in range(jobs)]
    with tempfile.TemporaryDirectory(prefix="sfumato-bench-") as home, database(database_url) as url:
        with serve(Path(home), url, worker=True, batch_size=str(batch_size), rate_limit_per_key="",
                   rate_limit_per_account="", webhook_delivery="false", poll_seconds="1",
                   env={"OMP_NUM_THREADS": str(threads)}) as server:  # fmt: skip
            keys = server.keys(clients + 1)
            typer.echo(f"warming the server's worker up on {model} …")
            _through_sfumato(server, [_spec(jobs, model, size, steps)], keys[-1:], poll)
            with progress() as bar:
                task = bar.add_task("sfumato (HTTP + queue + worker)", total=jobs)
                served = _through_sfumato(server, specs, keys[:-1], poll, lambda: bar.advance(task))
            waits = _claim_latencies(server, url, keys[-1], model, size, steps, latency_jobs)
        with progress() as bar:  # the server has stopped: the loop has the machine to itself
            task = bar.add_task("diffusers loop (in-process)", total=jobs)
            models_dir = Settings(home=Path(home)).resolved_models_dir  # where the server built it
            direct = _direct_loop(models_dir, model, specs, threads, lambda: bar.advance(task))
    typer.echo(f"{jobs} jobs of {model} at {size}×{size}, {steps} steps; {clients} clients; "
               f"server batch size {batch_size}; {threads} torch thread(s)")  # fmt: skip
    typer.echo(f"sfumato:        {jobs / served:7.2f} jobs/s  ({served:.2f} s)")
    typer.echo(f"diffusers loop: {jobs / direct:7.2f} jobs/s  ({direct:.2f} s)")
    typer.echo(f"ratio sfumato / diffusers: {direct / served:.2f}")
    if waits:
        ms = [w * 1000 for w in waits]
        typer.echo(f"claim latency (enqueue → start, idle worker), ms: p50 {percentile(ms, 50):.1f}  "
                   f"p99 {percentile(ms, 99):.1f}  max {max(ms):.1f}  (n={len(ms)})")  # fmt: skip


def _spec(n: int, model: str, size: int, steps: int) -> dict[str, Any]:
    return {"prompt": f"{PROMPTS[n % len(PROMPTS)]}, take {n}", "modelId": model, "width": size,
            "height": size, "num_images": 1, "num_inference_steps": steps, "seed": 1000 + n,
            "scheduler": "EULER_DISCRETE", "guidance_scale": 7}  # fmt: skip


def _through_sfumato(
    server: Server, specs: list[dict[str, Any]], keys: list[str], poll: float, tick: Any = lambda: None
) -> float:
    """Seconds from the first submission to the last completion, as the clients see them."""

    async def client(key: str, share: list[dict[str, Any]]) -> None:
        connection = await Connection.open(server.port)
        try:
            pending: set[str] = set()
            for body in share:
                status, answer = await connection.send(
                    post_request(server.port, f"{API}/generations", body, key)
                )
                if status != 200:
                    raise RuntimeError(f"submission refused ({status}): {answer[:300]!r}")
                pending.add(json.loads(answer)["sdGenerationJob"]["generationId"])
            user = await _user_id(connection, server.port, key)
            listing = get_request(server.port, f"{API}/generations/user/{user}?limit=100", key)
            while pending:
                await asyncio.sleep(poll)
                _, answer = await connection.send(listing)
                for generation in json.loads(answer)["generations"]:
                    if generation["id"] in pending and generation["status"] != "PENDING":
                        if generation["status"] != "COMPLETE":
                            raise RuntimeError(f"generation {generation['id']} failed")
                        pending.discard(generation["id"])
                        tick()
        finally:
            connection.close()

    async def main() -> float:
        started = time.perf_counter()
        shares = [specs[i :: len(keys)] for i in range(len(keys))]
        await asyncio.gather(*(client(key, share) for key, share in zip(keys, shares, strict=True) if share))
        return time.perf_counter() - started

    seconds: float = run_async(main())
    return seconds


async def _user_id(connection: Connection, port: int, key: str) -> str:
    _, answer = await connection.send(get_request(port, f"{API}/me", key))
    return str(json.loads(answer)["user_details"][0]["user"]["id"])


def _claim_latencies(
    server: Server, url: str, key: str, model: str, size: int, steps: int, count: int
) -> list[float]:
    """Enqueue-to-start times of jobs sent one at a time to an idle worker, from the job ledger."""
    from sqlalchemy import create_engine, text

    ids = []
    for n in range(count):
        time.sleep(0.2)  # let the worker go idle again: this is the wake-up being measured
        ids.append(_through_sfumato_one(server, _spec(10_000 + n, model, size, steps), key))
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT created_at, started_at FROM jobs WHERE generation_id IN :ids").bindparams(
                    _expanding("ids")
                ),
                {"ids": ids},
            ).all()
    finally:
        engine.dispose()
    return [(_as_datetime(started) - _as_datetime(created)).total_seconds() for created, started in rows]


def _through_sfumato_one(server: Server, body: dict[str, Any], key: str) -> str:
    import httpx

    headers = {"authorization": f"Bearer {key}"}
    created = httpx.post(f"{server.base}{API}/generations", json=body, headers=headers, timeout=60)
    created.raise_for_status()
    generation_id = str(created.json()["sdGenerationJob"]["generationId"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        got = httpx.get(f"{server.base}{API}/generations/{generation_id}", headers=headers, timeout=60)
        if got.json()["generations_by_pk"]["status"] != "PENDING":
            return generation_id
        time.sleep(0.02)
    raise RuntimeError(f"generation {generation_id} did not finish")


def _expanding(name: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name, expanding=True)


def _as_datetime(value: Any) -> Any:
    from datetime import datetime

    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _direct_loop(models_dir: Path, model: str, specs: list[dict[str, Any]], threads: int, tick: Any) -> float:
    """The same jobs as plain diffusers calls on the same weights, one job per call."""
    import torch
    from diffusers import DiffusionPipeline, EulerDiscreteScheduler

    from sfumato.engine.catalog import Catalog
    from sfumato.engine.progress import quiet_progress_bars

    torch.set_num_threads(threads)
    quiet_progress_bars()

    catalog = Catalog.load()
    entry = catalog.resolve(model)
    assert entry is not None
    pipeline = DiffusionPipeline.from_pretrained(str(catalog.weights_dir(entry, models_dir)))
    pipeline.scheduler = EulerDiscreteScheduler.from_config(pipeline.scheduler.config)
    pipeline.set_progress_bar_config(disable=True)

    def run(spec: dict[str, Any]) -> None:
        pipeline(
            prompt=spec["prompt"],
            width=spec["width"],
            height=spec["height"],
            num_inference_steps=spec["num_inference_steps"],
            guidance_scale=spec["guidance_scale"],
            generator=[torch.Generator("cpu").manual_seed(spec["seed"])],
            output_type="pil",
        )

    run(specs[0])  # warm-up, as the server had
    started = time.perf_counter()
    for spec in specs:
        run(spec)
        tick()
    return time.perf_counter() - started
