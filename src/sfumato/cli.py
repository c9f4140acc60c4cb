"""The ``sfumato`` command line."""

from __future__ import annotations

import json
import logging
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sfumato.bench import app as bench_app
from sfumato.config import Settings
from sfumato.errors import SfumatoError
from sfumato.service.context import Context

app = typer.Typer(
    help="sfumato: a self-hosted, Leonardo-compatible generative-media API server.",
    no_args_is_help=True,
)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
models_app = typer.Typer(help="The model catalog.", no_args_is_help=True)
credits_app = typer.Typer(help="Grant and inspect account credits.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(models_app, name="models")
app.add_typer(credits_app, name="credits")
app.add_typer(bench_app, name="bench")

console = Console()
err = Console(stderr=True)


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _context(settings: Settings | None = None, *, migrate: bool = True) -> Context:
    from sfumato.runtime import build_context
    from sfumato.store.migrate import upgrade

    settings = settings or Settings()
    if migrate:
        upgrade(settings.resolved_database_url)
    return build_context(settings)


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
) -> None:
    """Run the API server (and, unless --no-worker, a worker in the same process)."""
    import uvicorn

    from sfumato.app import create_app
    from sfumato.service.keys import has_accounts, issue_key

    _setup_logging()
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    ctx = _context(settings)
    if not has_accounts(ctx):
        issued = issue_key(ctx, username="admin")
        base = f"{settings.resolved_public_url}/api/rest/v1"
        console.print(
            "\n[bold green]Created the first account 'admin' and its API key (shown only once):[/bold green]"
        )
        console.print(f"\n  {issued.api_key}\n")
        console.print("Try it:")
        console.print(
            f"  curl -s {base}/generations -H 'authorization: Bearer {issued.api_key}' "
            "-H 'content-type: application/json' "
            '-d \'{"prompt": "a lighthouse at dusk", "modelId": "tiny-sd15", '
            '"width": 64, "height": 64, "num_images": 1}\'\n',
            soft_wrap=True,
        )
    uvicorn.run(
        create_app(settings, with_worker=not no_worker, context=ctx),
        host=settings.host,
        port=settings.port,
        log_level="info",
    )


@app.command()
def worker() -> None:
    """Run a worker that joins the same database and blobs as the API servers."""
    from sfumato.runtime import build_worker
    from sfumato.worker.shutdown import stop_gracefully_on_signals

    _setup_logging()
    ctx = _context()
    runner = build_worker(ctx)

    stop_gracefully_on_signals(runner, grace_seconds=ctx.settings.shutdown_grace_seconds)
    runner.run_forever()


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
) -> None:
    """Create an API key (and the account, if new). The key is shown once."""
    from sfumato.service.keys import issue_key

    try:
        issued = issue_key(_context(), username=user, credits_amount=credits, name=name)
    except SfumatoError as exc:
        raise _fail(exc) from exc
    if as_json:
        sys.stdout.write(json.dumps({"userId": issued.user_id, "apiKey": issued.api_key}) + "\n")
    else:
        console.print(f"user [bold]{issued.username}[/bold] ({issued.user_id})")
        console.print(f"api key (shown once): [bold]{issued.api_key}[/bold]")


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
    """List platform models and whether their weights are present."""
    from sfumato.service.models import list_platform_models

    table = Table("key", "id", "family", "ready", "name")
    for model in list_platform_models(_context(migrate=False)):
        table.add_row(model.key, model.id, model.family, "yes" if model.ready else "no", model.name)
    console.print(table)


@models_app.command("pull")
def models_pull(model: Annotated[str, typer.Argument(help="Model key or id.")]) -> None:
    """Download a model's weights (needs network access to its source)."""
    from sfumato.engine.pull import pull

    ctx = _context(migrate=False)
    entry = ctx.catalog.resolve(model)
    if entry is None:
        err.print(f"[red]error:[/red] unknown model {model!r}; see `sfumato models list`")
        raise typer.Exit(code=1)
    with console.status(f"pulling {entry.key} from {entry.source} …"):
        path = pull(entry, ctx.models_dir)
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


if __name__ == "__main__":
    app()
