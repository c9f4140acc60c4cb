"""``sfumato bench e2e``: jobs through HTTP, the queue and a worker, against a bare diffusers loop.

``--clients`` clients, each an account of its own, submit ``--jobs`` text-to-image jobs
between them to a real ``sfumato serve`` (API and worker in one process, the embedded
shape) and poll until every job is COMPLETE; the clock runs from the first submission to
the last completion a client sees, so the polling clients' wait (and the API's CPU for
every poll) is part of sfumato's figure. The same jobs then run as a plain loop of
diffusers pipeline calls in this process, on the same tiny model with the same scheduler,
seeds, size and steps — like for like:

* **batching off** (the worker's batch size 1) against a loop of one job per call;
* **batching on** against a loop that makes the same calls the worker made: as many calls
  of each batch size as the worker ran (read from the jobs' lineage), one generator per
  image, so both sides do the same arithmetic.

Both throughputs are printed per mode, and their ratio; sfumato and the loop alternate in
rounds so that the machine's other load falls on both alike, and the load average is
printed beside them.

A second phase measures the claim latency: jobs submitted one at a time to the idle
worker, each job's time from enqueue to start as the job ledger recorded it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from sfumato.bench import app
from sfumato.bench.harness import (
    API,
    DatabaseUrl,
    Server,
    percentile,
    process_cpu_seconds,
    progress,
    throwaway_server,
    worker_process,
)
from sfumato.bench.load_generator import Connection, get_request, post_request, run_async
from sfumato.bench.webhook_receiver import Receiver, receiver

PROMPTS = ("a lighthouse at dusk", "a red fox in snow", "a bowl of ramen", "a city at night")


@dataclass
class _Tally:
    """One mode's totals over its rounds."""

    served: float = 0.0
    direct: float = 0.0
    served_cpu: float = 0.0
    api_cpu: float = 0.0
    direct_cpu: float = 0.0
    polls: int = 0
    batches: Counter[int] = field(default_factory=Counter)


@app.command("e2e")
def e2e(
    jobs: int = typer.Option(200, help="Jobs to run both ways, in each mode."),
    clients: int = typer.Option(8, help="Concurrent clients, one account each."),
    model: str = typer.Option("tiny-sd15", help="Catalog key of the model."),
    size: int = typer.Option(64, help="Width and height of every image."),
    steps: int = typer.Option(10, help="Inference steps of every job."),
    batch_size: int = typer.Option(8, help="SFUMATO_BATCH_SIZE of the server's worker with batching on."),
    batching: str = typer.Option("both", help="off, on, or both (off first)."),
    poll: float = typer.Option(0.2, help="Seconds a client waits after a PENDING answer."),
    notify: str = typer.Option(
        "poll", help="poll: clients poll each generation; webhook: clients wait for sfumato's webhooks."
    ),
    latency_jobs: int = typer.Option(20, help="Jobs for the claim-latency phase (0 to skip)."),
    rounds: int = typer.Option(4, help="Alternating rounds of sfumato and the diffusers loop."),
    threads: int = typer.Option(1, help="torch CPU threads, the same on both sides."),
    shape: str = typer.Option(
        "scaled", help="scaled: an API process and a worker process; embedded: one process with both."
    ),
    database_url: DatabaseUrl = None,
) -> None:
    """Print sfumato's and a like-for-like diffusers loop's throughput and their ratio, with
    batching off and on, and the claim latency."""
    if batching not in ("off", "on", "both"):
        raise typer.BadParameter("--batching is off, on or both")
    if notify not in ("poll", "webhook"):
        raise typer.BadParameter("--notify is poll or webhook")
    modes = ["off", "on"] if batching == "both" else [batching]
    load_before = os.getloadavg()
    tallies: dict[str, _Tally] = {}
    waits: list[float] = []
    with tempfile.TemporaryDirectory(prefix="sfumato-bench-models-") as shared:
        models_dir = Path(os.environ.get("SFUMATO_MODELS_DIR") or shared)
        loop: DirectLoop | None = None
        for mode in modes:
            last = mode == modes[-1]
            tallies[mode], loop, mode_waits = _run_mode(
                mode, jobs, clients, model, size, steps, batch_size if mode == "on" else 1, poll, notify,
                latency_jobs if last else 0, rounds, threads, shape, database_url, models_dir, loop,
            )  # fmt: skip
            waits += mode_waits
    load_after = os.getloadavg()
    typer.echo(f"{jobs} jobs of {model} at {size}×{size}, {steps} steps, per mode; {clients} clients; "
               f"{shape} shape; clients {'poll' if notify == 'poll' else 'wait for webhooks'}; "
               f"{threads} torch thread(s); {rounds} rounds; load average "
               f"{load_before[0]:.2f} → {load_after[0]:.2f} on {os.cpu_count()} CPUs")  # fmt: skip
    for mode, tally in tallies.items():
        _print_mode(mode, tally, jobs, shape)
    if waits:
        ms = [w * 1000 for w in waits]
        typer.echo(f"claim latency (enqueue → start, idle worker), ms: p50 {percentile(ms, 50):.1f}  "
                   f"p99 {percentile(ms, 99):.1f}  max {max(ms):.1f}  (n={len(ms)})")  # fmt: skip


def _run_mode(
    mode: str, jobs: int, clients: int, model: str, size: int, steps: int, batch_size: int, poll: float,
    notify: str,
    latency_jobs: int, rounds: int, threads: int, shape: str, database_url: str | None, models_dir: Path,
    loop: DirectLoop | None,
) -> tuple[_Tally, DirectLoop, list[float]]:  # fmt: skip
    """One mode against a fresh server and database; the loop is built once and reused."""
    specs = [_spec(n, model, size, steps) for n in range(jobs)]
    tally = _Tally()
    settings = {"batch_size": str(batch_size), "poll_seconds": str(poll), "models_dir": str(models_dir)}
    with contextlib.ExitStack() as stack:
        hooks = stack.enter_context(receiver()) if notify == "webhook" else None
        if hooks is not None:
            settings.update(
                webhook_delivery="true", webhook_allow_hosts="127.0.0.1", webhook_poll_seconds="0.05"
            )
        server = stack.enter_context(
            throwaway_server(database_url, worker=shape == "embedded", settings=settings, threads=threads)
        )
        url = server.database_url
        worker = stack.enter_context(worker_process(server)) if shape == "scaled" else None
        pids = [server.process.pid] + ([worker.pid] if worker is not None else [])
        keys = server.keys(clients + 1, webhook_url=hooks.url if hooks is not None else None)
        typer.echo(f"batching {mode}: warming up {model} in sfumato's worker and in this process …")
        _through_sfumato(server, [_spec(jobs, model, size, steps)], keys[-1:], poll, hooks=hooks)
        loop = loop or DirectLoop(models_dir, model, threads)
        with progress() as bar:
            ours = bar.add_task(f"sfumato, batching {mode}", total=jobs)
            theirs = bar.add_task("diffusers loop, the same calls", total=jobs)
            # Alternate the two in rounds, so a change in the machine's other load falls on
            # both alike rather than on whichever happened to run second.
            for share in (specs[i::rounds] for i in range(rounds)):
                cpu = [process_cpu_seconds(pid) for pid in pids]
                seconds, ids, polls = _through_sfumato(
                    server, share, keys[:-1], poll, lambda: bar.advance(ours), hooks=hooks
                )
                used = [process_cpu_seconds(pid) - before for pid, before in zip(pids, cpu, strict=True)]
                tally.served += seconds
                tally.polls += polls
                tally.served_cpu += sum(used)
                tally.api_cpu += used[0] if worker is not None else 0.0
                sizes = _batch_sizes(url, ids) if mode == "on" else [1] * len(share)
                tally.batches.update(sizes)
                started_cpu = time.process_time()
                tally.direct += loop.run(share, sizes, lambda: bar.advance(theirs))
                tally.direct_cpu += time.process_time() - started_cpu
        waits = _claim_latencies(server, url, keys[-1], model, size, steps, latency_jobs)
    return tally, loop, waits


def _print_mode(mode: str, tally: _Tally, jobs: int, shape: str) -> None:
    calls = ", ".join(f"{count}×{size}" for size, count in sorted(tally.batches.items()))
    worker_cpu = tally.served_cpu - tally.api_cpu
    split = f" (API {tally.api_cpu / jobs * 1000:.1f}, worker {worker_cpu / jobs * 1000:.1f})"
    typer.echo(f"batching {mode} — pipeline calls of each batch size, both sides: {calls}")
    typer.echo(f"  sfumato:        {jobs / tally.served:7.2f} jobs/s ({tally.served:.2f} s), server CPU "
               f"{tally.served_cpu / jobs * 1000:.1f} ms/job{split if shape == 'scaled' else ''}, "
               f"{tally.polls / jobs:.1f} polls/job")  # fmt: skip
    typer.echo(f"  diffusers loop: {jobs / tally.direct:7.2f} jobs/s ({tally.direct:.2f} s), "
               f"CPU {tally.direct_cpu / jobs * 1000:.1f} ms/job")  # fmt: skip
    typer.echo(f"  ratio sfumato / diffusers, batching {mode}: {tally.direct / tally.served:.2f} "
               "(throughput), "
               f"{tally.direct_cpu / tally.served_cpu:.2f} (CPU per job)")  # fmt: skip


def _batch_sizes(url: str, ids: list[str]) -> list[int]:
    """The sizes of the pipeline calls the worker ran these generations in (their lineage's
    ``batch_jobs``: k jobs that say k were one call), one entry per call."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT lineage FROM generations WHERE id IN :ids").bindparams(_expanding("ids")),
                {"ids": ids},
            ).all()
    finally:
        engine.dispose()
    per_size = Counter(int(_as_dict(lineage).get("batch_jobs", 1)) for (lineage,) in rows)
    sizes = []
    for size, count in sorted(per_size.items(), reverse=True):
        calls, rest = divmod(count, size)
        sizes += [size] * calls + [1] * rest  # a batch that fell back ran its jobs one by one
    return sizes


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else json.loads(value)


def _spec(n: int, model: str, size: int, steps: int) -> dict[str, Any]:
    return {"prompt": f"{PROMPTS[n % len(PROMPTS)]}, take {n}", "modelId": model, "width": size,
            "height": size, "num_images": 1, "num_inference_steps": steps, "seed": 1000 + n,
            "scheduler": "EULER_DISCRETE", "guidance_scale": 7}  # fmt: skip


def _through_sfumato(
    server: Server,
    specs: list[dict[str, Any]],
    keys: list[str],
    poll: float,
    tick: Any = lambda: None,
    hooks: Receiver | None = None,
) -> tuple[float, list[str], int]:
    """Seconds from the first submission to the last completion, as the clients see them
    (by polling, or by webhook when ``hooks`` is given); the generations' ids, and how many
    status polls the clients sent."""
    ids: list[str] = []
    polls = [0]

    async def client(key: str, share: list[dict[str, Any]]) -> None:
        connection = await Connection.open(server.port)
        try:
            pending: list[str] = []
            for body in share:
                status, answer = await connection.send(
                    post_request(server.port, f"{API}/generations", body, key)
                )
                if status != 200:
                    raise RuntimeError(f"submission refused ({status}): {answer[:300]!r}")
                pending.append(json.loads(answer)["sdGenerationJob"]["generationId"])
            ids.extend(pending)
            if hooks is not None:
                await asyncio.to_thread(hooks.wait, pending, tick)
                return
            # Jobs finish in about the order they were queued: watch the oldest one, and
            # when it is done look at the next at once, sleeping only on a PENDING answer.
            while pending:
                _, answer = await connection.send(
                    get_request(server.port, f"{API}/generations/{pending[0]}", key)
                )
                polls[0] += 1
                status = json.loads(answer)["generations_by_pk"]["status"]
                if status == "PENDING":
                    await asyncio.sleep(poll)
                elif status == "COMPLETE":
                    pending.pop(0)
                    tick()
                else:
                    raise RuntimeError(f"generation {pending[0]} ended {status}")
        finally:
            connection.close()

    async def main() -> float:
        started = time.perf_counter()
        shares = [specs[i :: len(keys)] for i in range(len(keys))]
        await asyncio.gather(*(client(key, share) for key, share in zip(keys, shares, strict=True) if share))
        return time.perf_counter() - started

    seconds: float = run_async(main())
    return seconds, ids, polls[0]


def _claim_latencies(
    server: Server, url: str, key: str, model: str, size: int, steps: int, count: int
) -> list[float]:
    """Enqueue-to-start times of jobs sent one at a time to an idle worker, from the job ledger."""
    from sqlalchemy import create_engine, text

    if count <= 0:
        return []
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


class DirectLoop:
    """The same jobs as plain diffusers calls on the same weights, in calls of given sizes."""

    def __init__(self, models_dir: Path, model: str, threads: int) -> None:
        import torch
        from diffusers import DiffusionPipeline, EulerDiscreteScheduler

        from sfumato.engine.catalog import Catalog
        from sfumato.engine.progress import quiet_progress_bars

        torch.set_num_threads(threads)
        quiet_progress_bars()
        catalog = Catalog.load()
        entry = catalog.resolve(model)
        assert entry is not None
        self.pipeline = DiffusionPipeline.from_pretrained(str(catalog.weights_dir(entry, models_dir)))
        self.pipeline.scheduler = EulerDiscreteScheduler.from_config(self.pipeline.scheduler.config)
        self.pipeline.set_progress_bar_config(disable=True)
        self.run([_spec(0, model, 64, 2)], [1], lambda: None)  # warm-up, as the server had

    def run(self, specs: list[dict[str, Any]], sizes: list[int], tick: Any) -> float:
        """Run ``specs`` in calls of ``sizes`` images (in order; one per call past their end);
        the seconds they took."""
        import torch

        started = time.perf_counter()
        position = 0
        for size in [*sizes, *[1] * max(0, len(specs) - sum(sizes))]:
            calls = specs[position : position + size]
            if not calls:
                break
            first = calls[0]
            self.pipeline(
                prompt=[spec["prompt"] for spec in calls],
                width=first["width"],
                height=first["height"],
                num_inference_steps=first["num_inference_steps"],
                guidance_scale=first["guidance_scale"],
                generator=[torch.Generator("cpu").manual_seed(spec["seed"]) for spec in calls],
                output_type="pil",
            )
            for _ in calls:
                tick()
            position += size
        return time.perf_counter() - started
