"""``sfumato generations``: read a generation with its lineage, and replay it.

Like the other operator commands these work on the configured database and blob store
directly, acting as the generation's own account; a running server or worker runs the
replay's job while ``replay`` waits for it, showing its place in line and then its
progress (stage, step k of N) on a bar.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from sfumato.errors import SfumatoError
from sfumato.pending_cli import follow
from sfumato.service.context import Context
from sfumato.service.replay_report import ReplayReport
from sfumato.service.views import GenerationView

app = typer.Typer(help="Generations: show one with its lineage, replay it.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _context() -> Context:
    from sfumato.config import Settings
    from sfumato.runtime import build_context
    from sfumato.store.migrate import upgrade

    settings = Settings()
    upgrade(settings.resolved_database_url)
    return build_context(settings)


def _fail(exc: SfumatoError) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc.message}")
    return typer.Exit(code=1)


@app.command("show")
def show(generation: Annotated[str, typer.Argument(help="Generation id.")]) -> None:
    """Status, parameters, images (with their URLs and hashes) and the recorded lineage."""
    from sfumato.service.generations import get_generation
    from sfumato.service.replay import owner

    ctx = _context()
    try:
        view = get_generation(ctx, owner(ctx, generation), generation)
    except SfumatoError as exc:
        raise _fail(exc) from exc
    print_generation(view)


@app.command("replay")
def replay(
    generation: Annotated[str, typer.Argument(help="Generation id.")],
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the replay to run.")] = 600,
) -> None:
    """Run a generation again from its record as a new, charged generation; report what differs."""
    from sfumato.service.generations import get_generation
    from sfumato.service.replay import owner, replay_generation
    from sfumato.service.replay_report import replay_report

    ctx = _context()
    try:
        principal = owner(ctx, generation)
        created = replay_generation(ctx, principal, generation)
        console.print(f"replay {created.generation_id} queued ({created.credit_cost} credits)")
        finished = follow(
            lambda: get_generation(ctx, principal, created.generation_id),
            console=console,
            timeout=timeout,
            poll_seconds=ctx.settings.poll_seconds,
        )
        if finished is None:
            err.print(f"[red]error:[/red] the replay is still pending after {timeout:g}s")
            raise typer.Exit(code=1)
        report = replay_report(ctx, principal, created.generation_id)
    except SfumatoError as exc:
        raise _fail(exc) from exc
    print_report(report)


def print_generation(view: GenerationView) -> None:
    console.print(f"[bold]{view.id}[/bold] {view.status}  {view.created_at.isoformat(timespec='seconds')}")
    if view.failure_reason:
        console.print(f"[red]failed:[/red] {view.failure_reason}")
    parameters = Table("parameter", "value", title="parameters")
    for name, value in _parameters(view).items():
        if value is not None:
            parameters.add_row(name, str(value))
    console.print(parameters)
    images = Table("#", "seed", "size", "sha256", "url", title="images")
    for position, image in enumerate(view.images):
        images.add_row(
            str(position), str(image.seed), f"{image.width}×{image.height}", image.sha256, image.url
        )
    console.print(images)
    lineage = Table("entry", "value", title="lineage")
    for name, value in sorted(view.lineage.items()):
        lineage.add_row(name, str(value))
    if view.replay_of:
        lineage.add_row("replay_of", view.replay_of)
    console.print(lineage if lineage.row_count else "no lineage recorded yet")


def _parameters(view: GenerationView) -> dict[str, Any]:
    source = view.source
    return {
        "model": f"{view.model_key} ({view.model_id})",
        "prompt": view.prompt,
        "negative prompt": view.negative_prompt,
        "size": f"{view.width}×{view.height}",
        "images": view.num_images,
        "steps": view.steps,
        "guidance": view.guidance_scale,
        "seed": view.seed,
        "scheduler": view.scheduler,
        "preset style": view.preset_style,
        "tiling": view.tiling,
        "credits": view.credit_cost,
        "source": (source.init_image_id or source.init_generated_image_id) if source else None,
        "source sha256": source.init_sha256 if source else None,
        "mask sha256": source.mask_sha256 if source else None,
        "canvas": source.canvas_type if source else None,
        "init strength": source.init_strength if source else None,
    }


def print_report(report: ReplayReport) -> None:
    console.print(
        f"replay [bold]{report.generation_id}[/bold] of {report.replay_of}: {report.status}", soft_wrap=True
    )
    if report.status != "COMPLETE":
        return
    if report.identical:
        console.print("[green]identical[/green]: every image has the original's pixels (same sha256)")
    else:
        table = Table("#", "original sha256", "replay sha256", "max level difference", title="images")
        for image in report.images:
            level = "" if image.max_level_difference is None else str(image.max_level_difference)
            table.add_row(
                str(image.position), image.original_sha256 or "-", image.replay_sha256 or "-", level
            )
        console.print("[yellow]pixels differ[/yellow]")
        console.print(table)
    if not report.differences:
        console.print("lineage: no differences")
        return
    differences = Table("entry", "original", "replay", title="lineage differences")
    for difference in report.differences:
        differences.add_row(difference.name, str(difference.original), str(difference.replay))
    console.print(differences)
