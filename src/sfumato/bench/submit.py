"""``sfumato bench submit``: how fast ``POST /generations`` accepts work, with no worker running.

Every request is a distinct, valid text-to-image request (its own seed, so no
de-duplication short-cut, though the de-duplication query runs) from one of
``--accounts`` accounts; each is authenticated, rate-limited, validated, priced, charged
and queued — the whole submit path, with the intake's group commit. Rate limits stay
on, set far above the offered load, so their cost is measured too.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path

import typer

from sfumato.bench import app
from sfumato.bench.harness import (
    API,
    database,
    percentile,
    post_request,
    progress,
    run_load,
    run_paced,
    serve,
)


@app.command("submit")
def submit(
    requests: int = typer.Option(5000, help="Requests to send after the warm-up."),
    concurrency: int = typer.Option(32, help="Keep-alive connections, each with one request in flight."),
    rate: float = typer.Option(
        0,
        help="Offer this many requests per second, open loop, with latency counted from each "
        "request's scheduled time (0: as fast as --concurrency connections allow).",
    ),
    accounts: int = typer.Option(8, help="Accounts (one API key each) the requests come from."),
    servers: int = typer.Option(1, help="API processes (`serve --no-worker`) sharing the load."),
    warmup: int = typer.Option(500, help="Requests sent first and not counted."),
    database_url: str = typer.Option(
        None, help="Default: a temporary SQLite file. A PostgreSQL URL runs in a fresh schema."
    ),
) -> None:
    """Print accepted requests per second and latency percentiles of POST /generations."""
    connections = max(concurrency, 64) if rate > 0 else concurrency  # open loop: never the bottleneck
    with (
        tempfile.TemporaryDirectory(prefix="sfumato-bench-") as home,
        database(database_url) as url,
        contextlib.ExitStack() as stack,
    ):
        nodes = [stack.enter_context(serve(Path(home), url, worker=False, settings=UNLIMITED))]
        nodes += [stack.enter_context(serve(Path(home), url, worker=False, settings=UNLIMITED))
                  for _ in range(servers - 1)]  # fmt: skip
        ports = [node.port for node in nodes]
        keys = nodes[0].keys(accounts)
        bodies = [
            post_request(ports[0], f"{API}/generations", _body(n), keys[n % accounts])
            for n in range(warmup + requests)
        ]
        run_load(ports, bodies[:warmup], concurrency)
        cpu_before, client_before = sum(node.cpu_seconds() for node in nodes), time.process_time()
        with progress() as bar:
            task = bar.add_task("POST /generations", total=requests)

            def tick() -> None:
                bar.advance(task)

            result = (
                run_paced(ports, bodies[warmup:], rate, connections, tick)
                if rate > 0
                else run_load(ports, bodies[warmup:], concurrency, tick)
            )
        cpu_ms = (sum(node.cpu_seconds() for node in nodes) - cpu_before) / requests * 1000
        client_ms = (time.process_time() - client_before) / requests * 1000
    ms = [latency * 1000 for latency in result.latencies]
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    p50, p90, p99 = (percentile(ms, q) for q in (50, 90, 99))
    offered = f"offered {rate:.0f} req/s open loop" if rate > 0 else "closed loop"
    typer.echo(f"database: {backend}; {servers} API process(es), {offered}, {connections} connections, "
               f"{accounts} accounts, {requests} requests")  # fmt: skip
    typer.echo(f"statuses: {dict(sorted(result.statuses.items()))}")
    accepted = result.statuses.get(200, 0) / result.seconds
    typer.echo(f"accepted: {accepted:.0f} req/s in {result.seconds:.2f} s")
    since = " (from each request's scheduled time)" if rate > 0 else ""
    typer.echo(f"latency ms{since}: p50 {p50:.1f}  p90 {p90:.1f}  p99 {p99:.1f}  max {max(ms):.1f}")
    typer.echo(f"server CPU per request: {cpu_ms:.2f} ms (at most {1000 / cpu_ms:.0f} req/s per core); "
               f"load generator: {client_ms:.2f} ms")  # fmt: skip


# Rate limits stay on, far above the offered load, so that their cost is measured too.
UNLIMITED = {
    "rate_limit_per_key": "1000000/second",
    "rate_limit_per_account": "1000000/second",
    "max_queued_per_account": str(10**9),
    "webhook_delivery": "false",
}


def _body(n: int) -> dict[str, object]:
    return {
        "prompt": f"a lighthouse at dusk, take {n}",
        "modelId": "tiny-sd15",
        "width": 64,
        "height": 64,
        "num_images": 1,
        "num_inference_steps": 10,
        "seed": n,
    }
