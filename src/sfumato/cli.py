"""The ``sfumato`` command line."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sfumato import training_cli
from sfumato.batch_cli import app as batch_app
from sfumato.bench import app as bench_app
from sfumato.config import Settings
from sfumato.errors import SfumatoError
from sfumato.generations_cli import app as generations_app
from sfumato.service.context import Context

app = typer.Typer(
    help="sfumato: a self-hosted, Leonardo-compatible generative-media API server.",
    no_args_is_help=True,
)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
models_app = typer.Typer(help="The model catalog.", no_args_is_help=True)
credits_app = typer.Typer(help="Grant and inspect account credits.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Webhook deliveries: list, inspect, re-send.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(models_app, name="models")
app.add_typer(credits_app, name="credits")
app.add_typer(webhooks_app, name="webhooks")
accounts_app = typer.Typer(help="Operator settings of accounts.", no_args_is_help=True)
policy_app = typer.Typer(help="An account's content policy: mode and prompt rules.", no_args_is_help=True)
accounts_app.add_typer(policy_app, name="policy")
app.add_typer(accounts_app, name="accounts")
app.add_typer(bench_app, name="bench")
app.add_typer(batch_app, name="batch")
app.add_typer(generations_app, name="generations")
app.command("train")(training_cli.train)
models_app.command("compare")(training_cli.compare)

console = Console()
err = Console(stderr=True)


def _setup_logging() -> None:
    """JSON lines on stderr (SFUMATO_LOG_FORMAT=text for people), never keys or prompts by default."""
    from sfumato.observability.logs import configure_from

    configure_from(Settings())


def _context(settings: Settings | None = None, *, migrate: bool = True) -> Context:
    from rich.markup import escape

    from sfumato.blueprints import BlueprintError
    from sfumato.runtime import build_context
    from sfumato.store.migrate import upgrade

    settings = settings or Settings()
    if migrate:
        upgrade(settings.resolved_database_url)
    try:
        return build_context(settings)
    except BlueprintError as exc:  # an operator's file with a mistake: say which, and stop
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(code=1) from exc


def _fail(exc: SfumatoError) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc.message}")
    return typer.Exit(code=1)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic)."""
    from sfumato.store.migrate import upgrade

    settings = Settings()
    upgrade(settings.resolved_database_url)
    console.print(f"database at head: {settings.resolved_database_url.split('@')[-1]}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default SFUMATO_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default SFUMATO_PORT).")] = None,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="API only; run workers separately.")] = False,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            help="API processes sharing the port, one per core to use (above 1 needs --no-worker).",
        ),
    ] = 1,
) -> None:
    """Run the API server (and, unless --no-worker, a worker in the same process)."""
    import uvicorn

    from sfumato.app import create_app
    from sfumato.first_key import hand_over
    from sfumato.service.keys import has_accounts, issue_key

    if processes > 1 and not no_worker:
        raise typer.BadParameter(
            "above 1 needs --no-worker: each process would run a worker of its own and load its own "
            "models; run `sfumato worker` beside the API processes instead",
            param_hint="--processes",
        )
    _setup_logging()
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    ctx = _context(settings)
    if not has_accounts(ctx):
        hand_over(issue_key(ctx, username="admin"), settings)
    if processes > 1:
        ctx.close()
        # Each process builds its app from the environment: pass on what the options set.
        os.environ.update(SFUMATO_HOST=settings.host, SFUMATO_PORT=str(settings.port))
        uvicorn.run(
            "sfumato.app:api_only_app",
            factory=True,
            workers=processes,
            host=settings.host,
            port=settings.port,
            log_level="info",
            log_config=None,
            access_log=False,
        )
        return
    uvicorn.run(
        create_app(settings, with_worker=not no_worker, context=ctx),
        host=settings.host,
        port=settings.port,
        log_level="info",
        log_config=None,  # uvicorn's lines go through sfumato's handler
        access_log=False,  # sfumato logs each request itself, with its id and account
    )


@app.command()
def worker() -> None:
    """Run a worker that joins the same database and blobs as the API servers."""
    from sfumato.runtime import build_webhook_sender, build_worker
    from sfumato.worker.shutdown import stop_gracefully_on_signals

    _setup_logging()
    ctx = _context()
    runner = build_worker(ctx)
    sender = build_webhook_sender(ctx)  # workers deliver webhooks too, beside the API nodes

    stop_gracefully_on_signals(runner, grace_seconds=ctx.settings.shutdown_grace_seconds)
    if sender is not None:
        sender.start()
    if ctx.settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(ctx.settings.metrics_port, addr=ctx.settings.host)
    try:
        runner.run_forever()
    finally:
        if sender is not None:
            sender.close()


@app.command("workers")
def workers_list() -> None:
    """List live workers: what each can run, what it holds, how much memory it has free."""
    from sfumato.service.fleet import list_workers

    table = Table("id", "device", "running", "loaded", "models", "free memory", "last seen")
    for w in list_workers(_context()):
        models = "any" if w.models is None else ", ".join(w.models)
        free = "?" if w.free_memory_bytes is None else f"{w.free_memory_bytes / 2**30:.1f} GiB"
        seen = w.seen_at.isoformat(timespec="seconds")
        table.add_row(w.id, w.device, str(w.running_jobs), ", ".join(w.loaded_models), models, free, seen)
    console.print(table)


@keys_app.command("create")
def keys_create(
    user: Annotated[str, typer.Option(help="Account name; created if new.")],
    credits: Annotated[
        int | None,
        typer.Option(
            help="Credits for a new account (default SFUMATO_DEFAULT_CREDITS), or a grant to an existing one."
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="A label for the key.")] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print {userId, apiKey} as JSON.")] = False,
    webhook_url: Annotated[
        str | None, typer.Option(help="Receiver of this key's job events (https, or an allow-listed host).")
    ] = None,
    webhook_key: Annotated[
        str | None, typer.Option(help="Sent to the receiver as 'authorization: Bearer <key>'.")
    ] = None,
) -> None:
    """Create an API key (and the account, if new). The key is shown once."""
    from sfumato.service.keys import issue_key

    try:
        issued = issue_key(
            _context(),
            username=user,
            credits_amount=credits,
            name=name,
            webhook_url=webhook_url,
            webhook_key=webhook_key,
        )
    except SfumatoError as exc:
        raise _fail(exc) from exc
    if as_json:
        out = {"userId": issued.user_id, "apiKey": issued.api_key}
        if issued.webhook_secret:
            out["webhookSecret"] = issued.webhook_secret
        sys.stdout.write(json.dumps(out) + "\n")
    else:
        console.print(f"user [bold]{issued.username}[/bold] ({issued.user_id})")
        console.print(f"api key (shown once): [bold]{issued.api_key}[/bold]")
        if issued.webhook_secret:
            console.print(f"webhook signing secret: [bold]{issued.webhook_secret}[/bold]")


@keys_app.command("list")
def keys_list() -> None:
    """List API keys (prefixes only; keys are stored hashed)."""
    from sfumato.service.keys import list_keys

    table = Table("id", "prefix", "name", "user", "created", "status")
    for key in list_keys(_context()):
        table.add_row(
            key.id,
            key.prefix + "…",
            key.name,
            key.username,
            key.created_at,
            "revoked" if key.revoked else "active",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="Key id or prefix, as `keys list` shows.")],
) -> None:
    """Revoke an API key; requests with it get 401 from now on."""
    from sfumato.service.keys import revoke_key

    try:
        revoke_key(_context(), key)
    except SfumatoError as exc:
        raise _fail(exc) from exc
    console.print(f"revoked {key}")


@models_app.command("list")
def models_list() -> None:
    """List every catalog model (pipelines, upscalers, segmenters): whether this machine has
    its weights, and whether a live worker runs it."""
    from sfumato.service.models import list_catalog

    models = list_catalog(_context(migrate=False))
    table = Table()
    # The key is what every other command takes: whole, however narrow the terminal.
    table.add_column("key", no_wrap=True, min_width=max((len(m.key) for m in models), default=3))
    for title in ("id", "family", "weights here", "live worker", "GPU memory", "name"):
        table.add_column(title)
    for model in models:
        here = "yes" if model.weights_here else "no"
        served = "?" if model.served is None else "yes" if model.served else "no"
        table.add_row(model.key, model.id, model.family, here, served, model.memory, model.name)
    console.print(table)


@models_app.command("pull")
def models_pull(model: Annotated[str, typer.Argument(help="Model key or id.")]) -> None:
    """Download a model's weights (needs network access to its source)."""
    from sfumato.engine.errors import EngineError
    from sfumato.engine.pull import pull

    ctx = _context(migrate=False)
    entry = ctx.catalog.resolve(model)
    if entry is None:
        err.print(f"[red]error:[/red] unknown model {model!r}; see `sfumato models list`")
        raise typer.Exit(code=1)
    vae = f" with the VAE {entry.vae}" if entry.vae else ""
    with console.status(f"pulling {entry.key} from {entry.source}{vae} …"):
        try:
            path = pull(entry, ctx.models_dir)
        except EngineError as exc:
            err.print(f"[red]error:[/red] {exc}\n{ctx.catalog.how_to_obtain(entry)}")
            raise typer.Exit(code=1) from exc
    console.print(f"{entry.key} ready at {path}")


@credits_app.command("grant")
def credits_grant(
    user: Annotated[str, typer.Option(help="Account name.")],
    amount: Annotated[int, typer.Argument(help="Credits to add (negative to remove).")],
) -> None:
    """Add credits to an account (recorded in its ledger)."""
    from sfumato.service.accounts import grant_credits

    try:
        balance = grant_credits(_context(), username=user, amount=amount)
    except SfumatoError as exc:
        raise _fail(exc) from exc
    console.print(f"{user}: balance {balance}")


@credits_app.command("show")
def credits_show(user: Annotated[str, typer.Option(help="Account name.")]) -> None:
    """Show an account's balance."""
    from sfumato.service.accounts import balance_of

    try:
        balance = balance_of(_context(), username=user)
    except SfumatoError as exc:
        raise _fail(exc) from exc
    console.print(f"{user}: balance {balance}")


@credits_app.command("history")
def credits_history(
    user: Annotated[str, typer.Option(help="Account name.")],
    limit: Annotated[int, typer.Option(help="How many entries, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """An account's credit ledger: grants, debits and refunds, with the balance after each."""
    from sfumato.api.schemas.users import ledger_line_object
    from sfumato.service.accounts import credit_history

    try:
        lines = credit_history(_context(), username=user, limit=limit)
    except SfumatoError as exc:
        raise _fail(exc) from exc
    if as_json:
        for line in lines:
            sys.stdout.write(json.dumps(ledger_line_object(line)) + "\n")
        return
    table = Table("at", "kind", "amount", "balance", "for", "note")
    for line in lines:
        table.add_row(
            line.at.isoformat(timespec="seconds"),
            line.kind,
            f"{line.amount:+d}",
            str(line.balance_after),
            f"{line.subject_kind} {line.subject_id}" if line.subject_id else "",
            line.note or "",
        )
    console.print(table)


@webhooks_app.command("list")
def webhooks_list(
    user: Annotated[str | None, typer.Option(help="Only this account's deliveries.")] = None,
    state: Annotated[str | None, typer.Option(help="pending | delivered | failed | disabled")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List webhook deliveries, newest first."""
    from sfumato.api.schemas.webhooks import delivery_object
    from sfumato.service.accounts import account_id_of
    from sfumato.service.webhooks import list_deliveries

    ctx = _context()
    try:
        account_id = account_id_of(ctx, username=user) if user else None
        views = list_deliveries(ctx, account_id=account_id, state=state, limit=limit)
    except SfumatoError as exc:
        raise _fail(exc) from exc
    if as_json:
        for view in views:
            sys.stdout.write(json.dumps(delivery_object(view)) + "\n")
        return
    table = Table("id", "event", "state", "attempts", "last", "created", "url")
    for view in views:
        last = str(view.last_status) if view.last_status is not None else (view.last_error or "")
        table.add_row(
            view.id,
            view.event_type,
            view.state,
            str(view.attempts),
            last[:40],
            view.created_at.isoformat(timespec="seconds"),
            view.url,
        )
    console.print(table)


@webhooks_app.command("show")
def webhooks_show(delivery: Annotated[str, typer.Argument(help="Delivery (event) id.")]) -> None:
    """One delivery and every attempt made at it."""
    from sfumato.service.webhooks import get_delivery

    try:
        view = get_delivery(_context(), delivery, account_id=None)
    except SfumatoError as exc:
        raise _fail(exc) from exc
    console.print(f"{view.id} {view.event_type} [bold]{view.state}[/bold] → {view.url}")
    table = Table("#", "at", "status", "error", "ms")
    for attempt in view.attempt_log:
        table.add_row(
            str(attempt.number),
            attempt.attempted_at.isoformat(timespec="seconds"),
            str(attempt.status_code or ""),
            attempt.error or "",
            str(attempt.duration_ms),
        )
    console.print(table)


@webhooks_app.command("resend")
def webhooks_resend(delivery: Annotated[str, typer.Argument(help="Delivery (event) id.")]) -> None:
    """Send an event again: same id and body, a fresh round of attempts."""
    from sfumato.service.webhooks import resend

    try:
        view = resend(_context(), delivery, account_id=None)
    except SfumatoError as exc:
        raise _fail(exc) from exc
    console.print(f"{view.id}: {view.state}; a running server or worker delivers it")


@policy_app.command("show")
def policy_show(user: Annotated[str, typer.Option(help="Account name.")]) -> None:
    """An account's content policy: its mode for unsafe outputs, its own rules, lifted categories."""
    from sfumato.service.policy import show_account_policy

    try:
        view = show_account_policy(_context(), username=user)
    except SfumatoError as exc:
        raise _fail(exc) from exc
    sys.stdout.write(json.dumps({"user": view.username, "mode": view.mode, "rules": view.rules,
                                 "allowed": view.allowed}) + "\n")  # fmt: skip


@policy_app.command("set")
def policy_set(
    user: Annotated[str, typer.Option(help="Account name.")],
    mode: Annotated[str | None, typer.Option(help="flag | blur | withhold: what unsafe outputs get.")] = None,
    category: Annotated[
        str | None, typer.Option(help="The category the added terms and patterns fall under.")
    ] = None,
    term: Annotated[list[str] | None, typer.Option(help="A word or phrase to refuse (repeatable).")] = None,
    pattern: Annotated[
        list[str] | None, typer.Option(help="A regular expression to refuse (repeatable).")
    ] = None,
    allow: Annotated[
        list[str] | None, typer.Option(help="An operator category lifted for the account.")
    ] = None,
    disallow: Annotated[list[str] | None, typer.Option(help="A lifted category applied again.")] = None,
    clear_rules: Annotated[
        bool, typer.Option("--clear-rules", help="Drop the account's own rules first.")
    ] = False,
) -> None:
    """Change an account's content policy; servers apply it within SFUMATO_KEY_CACHE_SECONDS."""
    from sfumato.service.policy import update_account_policy

    try:
        view = update_account_policy(
            _context(), username=user, mode=mode, category=category, terms=term or (), patterns=pattern or (),
            allow=allow or (), disallow=disallow or (), clear_rules=clear_rules,
        )  # fmt: skip
    except SfumatoError as exc:
        raise _fail(exc) from exc
    own = sum(len(values) for entry in view.rules.values() for values in entry.values())
    lifted = ", ".join(view.allowed) or "none"
    console.print(f"{view.username}: mode {view.mode}; {own} rule(s) of its own; lifted: {lifted}")


if __name__ == "__main__":
    app()
