"""``sfumato bench submit``: how fast ``POST /generations`` accepts work, with no worker running,
against the floor: a bare FastAPI endpoint validating the same body (:mod:`sfumato.bench.floor`).

Every request is a distinct, valid text-to-image request (its own seed, so no
de-duplication short-cut, though the de-duplication query runs) from one of
``--accounts`` accounts; each is authenticated, rate-limited, validated, priced, charged
and queued — the whole submit path, with the intake's group commit. Rate limits stay
on, set far above the offered load, so their cost is measured too. The requests are split
into turns, sfumato and the floor taking the lead in turn, so a drift in a shared machine's
speed slows both alike and their ratio holds.
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import typer

from sfumato.bench import app
from sfumato.bench.floor import serve_floor
from sfumato.bench.harness import (
    API,
    DatabaseUrl,
    database,
    percentile,
    process_cpu_seconds,
    progress,
    serve,
)
from sfumato.bench.load_generator import LoadResult, post_request, run_load, run_paced


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
    floor: bool = typer.Option(
        True,
        help="Also load a bare FastAPI endpoint validating the same body (the floor), in turns "
        "with sfumato, and print the ratio of the two.",
    ),
    rounds: int = typer.Option(10, help="Turns of sfumato and the floor the requests are split into."),
    database_url: DatabaseUrl = None,
) -> None:
    """Print accepted requests per second and latency percentiles of POST /generations,
    and of the floor (a bare endpoint validating the same body) measured in turns with it."""
    connections = max(concurrency, 64) if rate > 0 else concurrency  # open loop: never the bottleneck
    with (
        tempfile.TemporaryDirectory(prefix="sfumato-bench-") as home,
        database(database_url) as url,
        contextlib.ExitStack() as stack,
    ):
        nodes = [stack.enter_context(serve(Path(home), url, worker=False, settings=UNLIMITED))]
        nodes += [stack.enter_context(serve(Path(home), url, worker=False, settings=UNLIMITED))
                  for _ in range(servers - 1)]  # fmt: skip
        targets = [Target("sfumato", [node.port for node in nodes], [node.process.pid for node in nodes])]
        if floor:
            floors = [
                stack.enter_context(serve_floor(Path(home))) for _ in range(servers)
            ]  # as many processes
            targets.append(
                Target("floor", [port for port, _ in floors], [process.pid for _, process in floors])
            )
        keys = nodes[0].keys(accounts)
        bodies = [
            post_request(targets[0].ports[0], f"{API}/generations", _body(n), keys[n % accounts])
            for n in range(warmup + requests)
        ]

        def load(target: Target, share: list[bytes], tick: Callable[[], None] = lambda: None) -> LoadResult:
            if rate > 0:
                return run_paced(target.ports, share, rate, connections, tick)
            return run_load(target.ports, share, concurrency, tick)

        for target in targets:
            run_load(target.ports, bodies[:warmup], concurrency)
        client_before = time.process_time()
        with progress() as bar:
            task = bar.add_task("POST /generations", total=requests * len(targets))

            def tick() -> None:
                bar.advance(task)

            measured = bodies[warmup:]
            for turn in range(rounds):
                share = measured[turn::rounds]
                # Each takes the lead in turn, so neither always follows the other's load.
                for target in targets if turn % 2 == 0 else targets[::-1]:
                    target.measure(functools.partial(load, target, share, tick))
        client_ms = (time.process_time() - client_before) / (requests * len(targets)) * 1000
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    offered = f"offered {rate:.0f} req/s open loop" if rate > 0 else "closed loop"
    turns = f" to each, in {rounds} turns" if floor else ""
    typer.echo(f"database: {backend}; {servers} API process(es), {offered}, {connections} connections, "
               f"{accounts} accounts, {requests} requests{turns}")  # fmt: skip
    since = " (from each request's scheduled time)" if rate > 0 else ""
    for target in targets:
        target.report(requests, since)
    typer.echo(f"load generator CPU per request: {client_ms:.2f} ms")
    if floor:
        sfumato, bare = targets
        typer.echo(
            f"sfumato / floor: {sfumato.accepted / bare.accepted:.2f} (throughput), "
            f"{bare.cpu_ms(requests) / sfumato.cpu_ms(requests):.2f} (CPU per request), "
            f"p50 {sfumato.p(50):.1f} / {bare.p(50):.1f} ms, p99 {sfumato.p(99):.1f} / {bare.p(99):.1f} ms"
        )


@dataclass
class Target:
    """One server under load (sfumato's API processes, or the floor), and what its turns measured."""

    name: str
    ports: list[int]
    pids: list[int]
    seconds: float = 0.0
    cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def measure(self, turn: Callable[[], LoadResult]) -> None:
        cpu_before = sum(process_cpu_seconds(pid) for pid in self.pids)
        result = turn()
        self.cpu += sum(process_cpu_seconds(pid) for pid in self.pids) - cpu_before
        self.seconds += result.seconds
        self.latencies += result.latencies
        for status, count in result.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count

    @property
    def accepted(self) -> float:
        """Requests answered 200 per second of this target's own turns."""
        return self.statuses.get(200, 0) / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        return percentile([latency * 1000 for latency in self.latencies], q)

    def cpu_ms(self, requests: int) -> float:
        return self.cpu / requests * 1000

    def report(self, requests: int, since: str) -> None:
        cpu_ms = self.cpu_ms(requests)
        typer.echo(f"{self.name}: statuses {dict(sorted(self.statuses.items()))}; "
                   f"accepted {self.accepted:.0f} req/s in {self.seconds:.2f} s")  # fmt: skip
        typer.echo(f"  latency ms{since}: p50 {self.p(50):.1f}  p90 {self.p(90):.1f}  p99 {self.p(99):.1f}  "
                   f"max {self.p(100):.1f}")  # fmt: skip
        per_core = 1000 / max(cpu_ms, 1e-9)
        typer.echo(f"  server CPU per request: {cpu_ms:.2f} ms (at most {per_core:.0f} req/s per core)")


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
