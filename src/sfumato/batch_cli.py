"""``sfumato batch run``: a file of Leonardo requests, run to the end, resumable.

The command reads and checks every request first, optionally prices them, then hands
them to :class:`sfumato.batch.runner.Runner` with the completion mode asked for. It needs
no sfumato installation on the other side: only a Leonardo-compatible base URL and key.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from sfumato.batch import BatchError


@dataclass(frozen=True)
class RunOptions:
    out: Path
    base_url: str
    api_key: str
    concurrency: int
    retry_failed: int
    dry_run: bool
    max_credits: int | None
    yes: bool
    timeout: float


app = typer.Typer(
    help="Run files of generation requests against a Leonardo-compatible API.", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)


def _listen_address(value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise typer.BadParameter("HOST:PORT, e.g. 0.0.0.0:8787", param_hint="--webhook-listen")
    return host.strip("[]"), int(port)


@app.command("run")
def run(
    requests_file: Annotated[
        Path | None, typer.Argument(help="JSONL: one request body per line, with optional id and kind.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Directory for files, manifest and checkpoint.")] = Path(
        "batch-out"
    ),
    base_url: Annotated[
        str, typer.Option(envvar="SFUMATO_URL", help="Server root or API base (…/api/rest/v1).")
    ] = "http://127.0.0.1:8000",
    api_key: Annotated[str | None, typer.Option(envvar="SFUMATO_API_KEY", help="Bearer API key.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Most jobs in flight at once.")] = 8,
    template: Annotated[
        Path | None, typer.Option(help="A prompt (text) or a body (JSON) with {column} placeholders.")
    ] = None,
    vars_file: Annotated[Path | None, typer.Option("--vars", help="CSV: one request per row.")] = None,
    base: Annotated[
        Path | None, typer.Option(help="JSON body a text --template's prompt is merged into.")
    ] = None,
    webhook_listen: Annotated[
        str | None, typer.Option(help="HOST:PORT to receive the key's webhooks on; else poll.")
    ] = None,
    webhook_secret: Annotated[
        str | None, typer.Option(envvar="SFUMATO_WEBHOOK_SECRET", help="The key's whsec_ signing secret.")
    ] = None,
    webhook_key: Annotated[
        str | None, typer.Option(help="Bearer token the server sends with each webhook (callback key).")
    ] = None,
    webhook_fallback: Annotated[
        float, typer.Option(min=0.1, help="With webhooks: read a job anyway after this many seconds.")
    ] = 30.0,
    poll_start: Annotated[float, typer.Option(min=0.01, help="First poll interval, seconds.")] = 1.0,
    poll_max: Annotated[float, typer.Option(min=0.01, help="Longest poll interval, seconds.")] = 30.0,
    retry_failed: Annotated[int, typer.Option(min=0, help="Resubmit a FAILED job up to N times.")] = 0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Price the file and stop.")] = False,
    max_credits: Annotated[
        int | None, typer.Option(min=0, help="Price first; above this, ask before running.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Run above --max-credits without asking.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds per HTTP request.")] = 60.0,
) -> None:
    """Submit every request, follow each job to its end and download its outputs; a re-run resumes."""
    from sfumato.batch.backoff import PollSchedule
    from sfumato.batch.completion import Completion, Polling, Webhooks

    try:
        listen = _listen_address(webhook_listen)
        requests = _read(requests_file, template, vars_file, base)
        if api_key is None:
            raise BatchError("an API key is needed: --api-key or SFUMATO_API_KEY")
        completion: Completion = Polling(PollSchedule(start=poll_start, cap=poll_max))
        if listen is not None:
            if webhook_secret is None and webhook_key is None:
                err.print("[yellow]warning:[/yellow] webhooks are not verified (--webhook-secret or "
                          "--webhook-key); an event only makes the run read its job, so a forged one "
                          "costs a request, not a result")  # fmt: skip
            fallback = PollSchedule(start=webhook_fallback, cap=10 * webhook_fallback)
            completion = Webhooks(
                listen[0], listen[1], secret=webhook_secret, bearer=webhook_key, fallback=fallback
            )
        options = RunOptions(out=out, base_url=base_url, api_key=api_key, concurrency=concurrency,
                             retry_failed=retry_failed, dry_run=dry_run, max_credits=max_credits, yes=yes,
                             timeout=timeout)  # fmt: skip
        code = asyncio.run(_main(requests, completion, options))
    except BatchError as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(code=1) from exc
    raise typer.Exit(code=code)


def _read(
    requests_file: Path | None, template: Path | None, vars_file: Path | None, base: Path | None
) -> list[Any]:
    from sfumato.batch.requests import expand_template, read_jsonl

    if (template is None) != (vars_file is None):
        raise BatchError("--template and --vars go together")
    if template is not None and vars_file is not None:
        if requests_file is not None:
            raise BatchError("give a requests file or --template/--vars, not both")
        base_body = None
        if base is not None:
            try:
                base_body = json.loads(base.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise BatchError(f"--base {base}: not a readable JSON object ({exc})") from exc
            if not isinstance(base_body, dict):
                raise BatchError(f"--base {base}: not a JSON object")
        return expand_template(template, vars_file, base_body)
    if requests_file is None:
        raise BatchError("give a requests file (JSONL), or --template with --vars")
    return read_jsonl(requests_file)


async def _main(requests: list[Any], completion: Any, options: RunOptions) -> int:
    import httpx

    from sfumato.batch.completion import Webhooks
    from sfumato.batch.display import Display, Tally
    from sfumato.batch.http import Api
    from sfumato.batch.runner import Runner, locked, pending_lines

    out = options.out
    connections = options.concurrency + 4
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(timeout=options.timeout, limits=limits) as client:
        api = Api(options.base_url, options.api_key, client=client)
        with locked(out):
            pending_lines(requests, out)  # checks the checkpoint and the manifest before anything is sent
            if options.dry_run or options.max_credits is not None:
                go_on = await _priced(api, requests, options)
                if options.dry_run or not go_on:
                    return 0 if options.dry_run else 1
            tally = Tally(total=len(requests))
            with Display(tally) as display:
                api.on_wait = display.waiting
                if isinstance(completion, Webhooks):
                    await completion.start()
                try:
                    runner = Runner(api, completion, out, concurrency=options.concurrency,
                                    retry_failed=options.retry_failed, on_change=display.refresh)  # fmt: skip
                    outcome = await runner.run(requests, tally)
                finally:
                    if isinstance(completion, Webhooks):
                        await completion.stop()
    for why in outcome.refused.values():
        err.print(f"[red]refused[/red] {why}", soft_wrap=True)
    console.print(
        f"{tally.done} done, {tally.failed} failed, {len(outcome.refused)} refused of {tally.total}; "
        f"{tally.credits} credits; manifest {out / 'manifest.jsonl'}",
        soft_wrap=True,
    )
    counters = api.counters
    console.print(
        f"{counters.requests} requests, {counters.rate_limited} answered 429, {counters.retried} retried"
    )
    if isinstance(completion, Webhooks):
        console.print(f"webhooks: {completion.received} events received, {completion.refused} refused")
    return 1 if outcome.refused else 0


async def _priced(api: Any, requests: list[Any], options: RunOptions) -> bool:
    """Print what the lines still to run would cost; False to stop above --max-credits."""
    from sfumato.batch.pricing import estimate
    from sfumato.batch.runner import pending_lines

    todo, done = pending_lines(requests, options.out)
    quote = await estimate(api, todo)
    _print_estimate(quote, len(todo), done)
    limit = options.max_credits
    if options.dry_run or limit is None or quote.credits <= limit or options.yes:
        return True
    question = f"{quote.credits} credits is above --max-credits {limit}; run anyway?"
    if console.is_terminal and typer.confirm(question):
        return True
    err.print(
        f"[red]stopped:[/red] {quote.credits} credits is above --max-credits {limit} (--yes runs anyway)"
    )
    return False


def _print_estimate(quote: Any, lines: int, done: int) -> None:
    table = Table("kind", "lines", "credits")
    for kind, credits in sorted(quote.by_kind.items()):
        table.add_row(kind, str(quote.lines[kind]), str(credits))
    for kind, count in sorted(quote.unpriced.items()):
        table.add_row(kind, str(count), "not priced")
    console.print(table)
    already = f" ({done} already done)" if done else ""
    console.print(f"estimate: {quote.credits} credits for {lines} lines{already}")
