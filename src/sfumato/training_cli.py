"""``sfumato train`` and ``sfumato models compare``: train a LoRA from a dataset on the terminal,
following its steps and loss on a bar; compare two trained versions' prompt suites.

Like the other operator commands they work on the configured database and blob store
directly; ``train`` acts as the dataset's own account, and a running worker (``sfumato
serve`` or ``sfumato worker``) runs the training while it waits.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from sfumato.errors import SfumatoError
from sfumato.service.context import Context

console = Console()
err = Console(stderr=True)


def _context() -> Context:
    from sfumato.config import Settings
    from sfumato.runtime import build_context
    from sfumato.store.migrate import upgrade

    settings = Settings()
    upgrade(settings.resolved_database_url)
    return build_context(settings)


def train(
    dataset: Annotated[str, typer.Argument(help="Dataset id.")],
    name: Annotated[str, typer.Option(help="The model's name.")],
    prompt: Annotated[str, typer.Option(help="The instance prompt the pictures are learnt under.")],
    element: Annotated[bool, typer.Option(help="Train an element (else a custom model).")] = False,
    sd_version: Annotated[str | None, typer.Option(help="Leonardo sd_version of the base model.")] = None,
    resolution: Annotated[int, typer.Option(help="Training resolution: a multiple of 8, 64-1024.")] = 512,
    strength: Annotated[str, typer.Option(help="Custom models: VERY_LOW, LOW, MEDIUM or HIGH.")] = "MEDIUM",
    epochs: Annotated[int, typer.Option(help="Elements: passes over the dataset.")] = 10,
    learning_rate: Annotated[float | None, typer.Option(help="Learning rate (default 1e-4).")] = None,
    text_encoder: Annotated[bool, typer.Option(help="Train the text encoder too.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the training.")] = 3600,
) -> None:
    """Train a custom model (or an element) on a dataset and follow it: step, loss, time left."""
    from sfumato.service.keys import Principal
    from sfumato.service.training import TrainingRequest, create_training, get_training
    from sfumato.store.models import Account
    from sfumato.store.training_tables import ELEMENT, MODEL, Dataset

    ctx = _context()
    with ctx.db.read() as session:
        row = session.get(Dataset, dataset)
        if row is None:
            err.print(f"[red]error:[/red] no dataset {dataset!r}")
            raise typer.Exit(code=1)
        account = session.get(Account, row.account_id)
        principal = Principal(
            account_id=row.account_id, api_key_id="", username=account.username if account else ""
        )
    purpose = ELEMENT if element else MODEL
    request = TrainingRequest(
        purpose=purpose,
        name=name,
        dataset_id=dataset,
        instance_prompt=prompt,
        sd_version=sd_version,
        resolution=resolution,
        strength=strength,
        epochs=epochs if element else None,
        learning_rate=learning_rate,
        train_text_encoder=text_encoder,
    )
    try:
        created = create_training(ctx, principal, request)
    except SfumatoError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(code=1) from None
    ident = created.uuid if purpose == MODEL else str(created.lora_id)
    console.print(f"{purpose} {ident} queued ({created.credit_cost} credits)")
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    deadline = time.monotonic() + timeout
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("queued", total=None, loss="-")
        while True:
            view = get_training(ctx, principal, purpose, uuid=created.uuid)
            if view.status != "PENDING":
                steps = len(view.lineage.get("losses") or []) or None
                final = view.lineage.get("losses") or ["-"]
                loss = f"{final[-1]:.4f}" if steps else "-"
                bar.update(
                    task, description=view.status.lower(), completed=steps or 0, total=steps, loss=loss
                )
                break
            standing = view.standing
            if standing is not None and standing.progress is not None:
                progress = standing.progress
                loss = f"{progress.loss:.4f}" if progress.loss is not None else "-"
                bar.update(task, description=progress.stage, completed=progress.step,
                           total=progress.total or None, loss=loss)  # fmt: skip
            elif standing is not None and standing.queue_position is not None:
                bar.update(task, description=f"queued (position {standing.queue_position})")
            if time.monotonic() > deadline:
                err.print(f"[red]error:[/red] still training after {timeout:g}s")
                raise typer.Exit(code=1)
            time.sleep(0.5)
    if view.status != "COMPLETE":
        err.print(f"[red]failed:[/red] {view.failure_reason}")
        raise typer.Exit(code=1)
    losses = view.lineage.get("losses") or []
    console.print(
        f"trained: {len(losses)} steps, loss {losses[0]:.4f} → {losses[-1]:.4f}" if losses else "trained"
    )
    for image in view.evaluation:
        console.print(f"  suite: {image['prompt']!r} seed {image['seed']}: {image['url']}")


def compare(
    a: Annotated[str, typer.Argument(help="A custom model's id or an element's number.")],
    b: Annotated[str, typer.Argument(help="The other one.")],
) -> None:
    """Two trained versions: dataset and base weights, settings that differ, final losses, and
    their prompt suites picture by picture (same prompt, same seed)."""
    from sfumato.service.model_compare import compare as compare_models

    try:
        result = compare_models(_context(), a, b)
    except SfumatoError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(code=1) from None
    console.print(f"A {result.a}\nB {result.b}")
    console.print(f"same dataset version: {'yes' if result.same_dataset else 'no'}; "
                  f"same base weights: {'yes' if result.same_base_weights else 'no'}")  # fmt: skip
    loss_a, loss_b = result.losses
    console.print(
        f"final loss: A {loss_a if loss_a is not None else '-'}, B {loss_b if loss_b is not None else '-'}"
    )
    for name, (value_a, value_b) in result.setting_differences.items():
        console.print(f"  {name}: A {value_a!r}  B {value_b!r}")
    table = Table("prompt", "seed", "identical", "max level Δ", "mean level Δ")
    for pair in result.pairs:
        table.add_row(
            pair.prompt, str(pair.seed), "yes" if pair.identical else "no",
            "-" if pair.max_level_difference is None else str(pair.max_level_difference),
            "-" if pair.mean_level_difference is None else f"{pair.mean_level_difference:g}",
        )  # fmt: skip
    console.print(table)
