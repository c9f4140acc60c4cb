"""``sfumato bench batch-run``: a file of jobs through ``sfumato batch run``, against the
server's own end-to-end throughput.

One ``sfumato serve`` (API and worker in one process). First the e2e benchmark's lean
clients (raw keep-alive HTTP, ``--clients`` accounts) submit ``--jobs`` text-to-image jobs
and poll until all are COMPLETE; then the same number of jobs (other seeds, so the
server's de-duplication does not answer them from the first round) are written to a JSONL
file and run by ``sfumato batch run`` as a user would run it — a process of its own, with
its checkpoint, downloads and manifest. The wall times and their ratio are printed.
``--webhooks`` runs the batch with a key whose webhook URL is the batch's own receiver
instead of polling.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from datetime import datetime

import typer

from sfumato.bench import app
from sfumato.bench.e2e import _spec, _through_sfumato
from sfumato.bench.harness import DatabaseUrl, Server, free_port, throwaway_server


@app.command("batch-run")
def batch_run(
    jobs: int = typer.Option(200, help="Jobs run each way."),
    clients: int = typer.Option(8, help="Clients (one account each) of the e2e round."),
    concurrency: int = typer.Option(8, help="sfumato batch --concurrency."),
    model: str = typer.Option("tiny-sd15", help="Catalog key of the model."),
    size: int = typer.Option(64, help="Width and height of every image."),
    steps: int = typer.Option(1, help="Inference steps of every job."),
    poll: float = typer.Option(0.1, help="Poll interval of the e2e clients; first poll of sfumato batch."),
    threads: int = typer.Option(1, help="torch CPU threads of the server."),
    webhooks: bool = typer.Option(False, help="sfumato batch learns of completions by webhook, not polling."),
    database_url: DatabaseUrl = None,
) -> None:
    """Print jobs/s through sfumato batch and through the e2e clients, and their ratio."""
    settings = {"webhook_delivery": str(webhooks).lower(),
                "webhook_allow_hosts": "127.0.0.1", "webhook_poll_seconds": "0.2", "poll_seconds": "0.05",
                "concurrency_slots": str(max(concurrency, 2))}  # fmt: skip
    with throwaway_server(database_url, worker=True, settings=settings, threads=threads) as server:
        home = server.home
        keys = server.keys(clients + 1)
        typer.echo(f"warming up {model} …")
        _through_sfumato(server, [_spec(10 * jobs, model, size, steps)], keys[:1], poll)
        e2e = _through_sfumato(server, [_spec(n, model, size, steps) for n in range(jobs)], keys[1:], poll)[0]
        requests = home / "requests.jsonl"
        requests.write_text(
            "".join(json.dumps(_spec(jobs + n, model, size, steps)) + "\n" for n in range(jobs))
        )
        out = home / "out"
        key, hooks = keys[0], list[str]()
        if webhooks:
            key, hooks = _webhook_key(server)
        command = [sys.executable, "-m", "sfumato.cli", "batch", "run", str(requests), "--out", str(out),
                   "--base-url", server.base, "--api-key", key, "--concurrency", str(concurrency),
                   "--poll-start", str(poll), "--poll-max", "2", *hooks]  # fmt: skip
        started, wall_start = time.perf_counter(), time.time()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        server_cpu = server.cpu_seconds()
        result = subprocess.run(command, capture_output=True, text=True)
        batch = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        client_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
        server_cpu = server.cpu_seconds() - server_cpu
        if result.returncode != 0:
            raise RuntimeError(f"sfumato batch failed:\n{result.stderr[-2000:]}")
        stored = sum(1 for _ in (out / "files").iterdir())
        first_line = (out / "checkpoint.jsonl").read_text().split("\n", 1)[0]
        first = datetime.fromisoformat(json.loads(first_line)["at"]).timestamp() - wall_start
    mode = "webhooks" if webhooks else f"polling from {poll:g}s"
    typer.echo(f"{jobs} jobs of {model} at {size}×{size}, {steps} step(s); batch --concurrency "
               f"{concurrency}, {mode}; {clients} e2e clients; {threads} torch thread(s)")  # fmt: skip
    typer.echo(f"sfumato batch: {jobs / batch:7.2f} jobs/s ({batch:.2f} s, process start, {stored} files "
               "downloaded and the manifest included)")  # fmt: skip
    typer.echo(f"               first job created {first:.2f} s after the process started; then "
               f"{jobs / (batch - first):.2f} jobs/s")  # fmt: skip
    typer.echo(f"               CPU: sfumato batch process {client_cpu:.2f} s, server {server_cpu:.2f} s")
    typer.echo(f"e2e clients:   {jobs / e2e:7.2f} jobs/s ({e2e:.2f} s, no downloads)")
    typer.echo(f"ratio batch / e2e: {e2e / batch:.2f} (throughput)")
    typer.echo("sfumato batch said: " + " | ".join(result.stdout.strip().splitlines()[-2:]))


def _webhook_key(server: Server) -> tuple[str, list[str]]:
    """A key whose webhooks go to a receiver ``sfumato batch`` will listen on, and its options."""
    from sfumato.service.keys import issue_key

    port = free_port()
    with server.context() as ctx:
        issued = issue_key(ctx, username="bench-batch-hooks", credits_amount=10**9,
                           webhook_url=f"http://127.0.0.1:{port}/hooks")  # fmt: skip
    assert issued.webhook_secret is not None
    return issued.api_key, [
        "--webhook-listen",
        f"127.0.0.1:{port}",
        "--webhook-secret",
        issued.webhook_secret,
    ]
