"""``sfumato bench batch``: worker throughput with dynamic batching off and on, at the same load.

For each batch size, the same ``--jobs`` text-to-image jobs (distinct prompts and seeds,
one batch key) are queued from ``--accounts`` accounts, then one in-process worker drains
the queue: claim, one pipeline call per claim, PNG encoding, blob upload, completion. The
engine and its loaded model are shared by every round, so only the batch size changes.
"""

from __future__ import annotations

import time

import typer

from sfumato.bench import app
from sfumato.bench.harness import DatabaseUrl, account, in_process, progress


@app.command("batch")
def batch(
    jobs: int = typer.Option(64, help="Jobs queued for every batch size."),
    sizes: str = typer.Option("1,8", help="Comma-separated batch sizes; the first is the baseline."),
    accounts: int = typer.Option(4, help="Accounts the jobs come from."),
    model: str = typer.Option("tiny-sd15", help="Catalog key of the model."),
    size: int = typer.Option(64, help="Width and height of every image."),
    steps: int = typer.Option(10, help="Inference steps of every job."),
    threads: int = typer.Option(1, help="torch CPU threads."),
    database_url: DatabaseUrl = None,
) -> None:
    """Print jobs/s for each batch size and its ratio to the first."""
    import torch

    from sfumato.engine import Engine
    from sfumato.service import generations
    from sfumato.worker.loop import Worker

    torch.set_num_threads(threads)
    batch_sizes = [int(b) for b in sizes.split(",")]
    with in_process(database_url, concurrency_slots=max(batch_sizes), max_queued_per_account=10**9) as ctx:
        engine = Engine(ctx.catalog, ctx.models_dir, device="cpu")
        principals = [account(ctx, f"bench-{i}") for i in range(accounts)]
        counter = iter(range(10**9))

        def queue_jobs(count: int) -> None:
            for _ in range(count):
                n = next(counter)
                request = generations.GenerationRequest(
                    prompt=f"a lighthouse at dusk, take {n}", model_id=model, width=size, height=size,
                    num_images=1, steps=steps, seed=n, scheduler="EULER_DISCRETE",
                )  # fmt: skip
                generations.create_generation(ctx, principals[n % accounts], request)

        queue_jobs(1)
        Worker(db=ctx.db, engine=engine, blobs=ctx.blobs).run_once()  # load the model first
        results = {}
        for batch_size in batch_sizes:
            queue_jobs(jobs)
            worker = Worker(db=ctx.db, engine=engine, blobs=ctx.blobs, batch_size=batch_size)
            with progress() as bar:
                task = bar.add_task(f"batch size {batch_size}", total=jobs)
                started = time.perf_counter()
                while ran := worker.run_once():
                    bar.advance(task, ran)
                results[batch_size] = time.perf_counter() - started
    typer.echo(f"{jobs} jobs of {model} at {size}×{size}, {steps} steps, {accounts} accounts, "
               f"{threads} torch thread(s)")  # fmt: skip
    baseline = results[batch_sizes[0]]
    for batch_size, seconds in results.items():
        typer.echo(f"batch size {batch_size:3d}: {jobs / seconds:7.2f} jobs/s ({seconds:.2f} s)  "
                   f"ratio {baseline / seconds:.2f}")  # fmt: skip
