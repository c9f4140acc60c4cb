"""Blueprints: list them, read their versions, execute one, follow an execution.

An execution is quoted before anything is written — the sum of its steps' prices — then
recorded with its steps through the common admission (``service.admission``), its first
step charged and queued in the same transaction, under the rules every charged request
meets: 402 when the balance does not cover the whole quote, 429 over the queue cap or when
the quote would pass the day's budget, and the ``Idempotency-Key`` linked to the execution,
so a retry whose first answer was lost gets the same execution, charged once. Every later
step is admitted by the transaction that records its predecessor's completion
(``jobs.kinds.blueprint_step``), so an execution survives any crash between steps and each
step is charged only as it starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image
from sqlalchemy import Table

from sfumato.blueprints import Blueprint, Version
from sfumato.blueprints.definitions import IMAGE_URL, SETTINGS
from sfumato.errors import InvalidRequest, NotFound, SfumatoError
from sfumato.jobs.kinds import blueprint_step
from sfumato.service import admission, data_urls, policy
from sfumato.service.blueprint_plans import NodeInput, PlannedStep, plan, read_inputs
from sfumato.service.context import Context
from sfumato.service.keys import Principal
from sfumato.service.paging import Page, Paging, page
from sfumato.store import blueprints as store
from sfumato.store import credits, progress
from sfumato.store.intake import Submission
from sfumato.store.models import BlueprintExecution, BlueprintStep, Generation, new_id
from sfumato.store.progress import Standing

SUBJECT_KIND = "blueprint_execution"  # what an Idempotency-Key's record names for an execution
EXECUTIONS: Table = BlueprintExecution.__table__  # type: ignore[assignment]
STEPS: Table = BlueprintStep.__table__  # type: ignore[assignment]
GENERATIONS: Table = Generation.__table__  # type: ignore[assignment]
_QUOTING = Principal(account_id="", api_key_id="", username="")  # a quote is nobody's request


@dataclass(frozen=True)
class VersionView:
    """A version as a caller sees it: its nodes, its price with default inputs, whether it runs here."""

    blueprint: Blueprint
    version: Version
    cost: int
    models: tuple[str, ...]
    executable: bool
    reason: str | None


@dataclass(frozen=True)
class StepView:
    step: BlueprintStep
    standing: Standing | None  # queued or running: where it is


@dataclass(frozen=True)
class ExecutionView:
    execution: BlueprintExecution
    status: str
    steps: list[StepView]


def list_blueprints(
    ctx: Context, paging: Paging, *, categories: list[str] | None = None, platforms: list[str] | None = None
) -> Page[Blueprint]:
    """The blueprints in name order, filtered: any of ``categories``, any of ``platforms``."""
    wanted_categories = {c.lower() for c in categories or []}
    chosen = [
        blueprint
        for blueprint in ctx.blueprints.blueprints
        if (not wanted_categories or wanted_categories & {c.lower() for c in blueprint.categories})
        and (not platforms or set(platforms) & set(blueprint.platforms))
    ]
    return page(chosen, lambda blueprint: blueprint.id, paging)


def get_blueprint(ctx: Context, blueprint_id: str) -> Blueprint:
    blueprint = ctx.blueprints.get(blueprint_id)
    if blueprint is None:
        raise NotFound(f"No blueprint with id {blueprint_id!r}")
    return blueprint


def get_versions(ctx: Context, blueprint_id: str) -> list[VersionView]:
    """Every version, newest first, quoted with its default inputs."""
    blueprint = get_blueprint(ctx, blueprint_id)
    return [_version_view(ctx, blueprint, version) for version in reversed(blueprint.versions)]


def _version_view(ctx: Context, blueprint: Blueprint, version: Version) -> VersionView:
    try:
        steps = plan(ctx, _QUOTING, version, None)
    except SfumatoError as exc:  # a model that cannot run here, an option the model refuses …
        return VersionView(blueprint, version, 0, (), False, exc.message)
    models = tuple(dict.fromkeys(model for step in steps for model in step.models))
    return VersionView(blueprint, version, sum(step.cost for step in steps), models, True, None)


def execute(
    ctx: Context,
    principal: Principal,
    version_id: str,
    inputs: list[NodeInput],
    *,
    public: bool = False,
    collection_ids: list[int | None] | None = None,
) -> tuple[str, int]:
    """Check, quote and start an execution; its id and its quote."""
    found = ctx.blueprints.version(version_id)
    if found is None:
        raise NotFound(f"No blueprint version with id {version_id!r}")
    blueprint, version = found
    unknown = [given.setting for given in inputs if given.setting not in SETTINGS]
    if unknown:
        raise InvalidRequest(f"nodeInputs: unknown settingName {unknown[0]!r} (one of {', '.join(SETTINGS)})")
    values = read_inputs(version, inputs)
    picture = _first_picture(ctx, version, values)
    size = picture.size if picture is not None else None
    steps = plan(ctx, principal, version, values, public=public, **({"picture_size": size} if size else {}))
    policy.check(
        ctx, principal.account_id, [text for step in steps for text in step.texts], "blueprint execution"
    )
    quote = sum(step.cost for step in steps)
    execution_id = new_id()
    source_key = f"blueprints/{execution_id}/input.png" if picture is not None else None
    submitted = _submission(
        ctx,
        principal,
        blueprint,
        version,
        execution_id,
        steps,
        inputs,
        source_key,
        quote,
        public=public,
        collection_ids=collection_ids or [],
    )
    if picture is not None and source_key is not None:  # before its job is queued
        ctx.blobs.put(source_key, data_urls.png_bytes(picture), "image/png")
    accepted = None
    try:
        accepted = admission.admit(ctx, submitted, "blueprint execution")
    finally:
        if source_key is not None and (accepted is None or accepted.duplicate):
            ctx.blobs.delete(source_key)  # refused, or answered with an execution started before
    # A duplicate: its Idempotency-Key's first attempt started the execution it names.
    return (accepted.subject_id if accepted.duplicate else execution_id), quote


def _first_picture(
    ctx: Context, version: Version, values: dict[str, dict[str, object]]
) -> Image.Image | None:
    first = version.nodes[0]
    url = values.get(first.id, {}).get(IMAGE_URL)
    if not isinstance(url, str):
        return None
    settings = ctx.settings
    picture = data_urls.decode(
        url,
        field=f"node {first.id!r} imageUrl",
        max_bytes=settings.upload_max_bytes,
        max_pixels=settings.upload_max_pixels,
    )
    return picture.convert("RGB")


def _submission(
    ctx: Context,
    principal: Principal,
    blueprint: Blueprint,
    version: Version,
    execution_id: str,
    steps: list[PlannedStep],
    inputs: list[NodeInput],
    source_key: str | None,
    quote: int,
    *,
    public: bool,
    collection_ids: list[int | None],
) -> Submission:
    """The execution, its steps and its first step as one admission: the first step's generation
    is what is charged now, its job is queued, and the execution and step rows are written with
    them; the balance and the day's budget must cover the whole quote, and an
    ``Idempotency-Key`` names the execution."""
    first = steps[0]
    account_id = principal.account_id
    execution = {
        "id": execution_id,
        "account_id": account_id,
        "api_key_id": principal.api_key_id,
        "blueprint_id": blueprint.id,
        "version_id": version.id,
        "status": store.QUEUED,
        "public": public,
        "inputs": [_input_row(given) for given in inputs],
        "collection_ids": collection_ids,
        "quote": quote,
    }
    step_rows = [
        {
            "id": new_id(),
            "execution_id": execution_id,
            "position": position,
            "node_id": step.node.id,
            "task": step.node.task,
            "status": store.ADMITTED if position == 0 else store.WAITING,
            "cost": step.cost,
            "job_kind": step.job_kind,
            "job_payload": step.job_payload,
            "source_field": step.source_field,
            "generation": step.generation,
            "generation_id": step.generation_id,
        }
        for position, step in enumerate(steps)
    ]
    job = blueprint_step.step_job(
        execution_id,
        0,
        kind=first.job_kind,
        payload=first.job_payload,
        source_field=first.source_field,
        source_key=source_key,
        account_id=account_id,
        generation_id=first.generation_id,
        max_attempts=ctx.settings.max_attempts,
    )
    return admission.submission(
        ctx,
        principal,
        cost=first.cost,
        subject_kind=credits.SubjectKind.GENERATION,
        subject_id=first.generation_id,
        subject_table=GENERATIONS,
        subject=blueprint_step.generation_row(
            first.generation,
            generation_id=first.generation_id,
            account_id=account_id,
            api_key_id=principal.api_key_id,
            cost=first.cost,
        ),
        job=job,
        rows=[(EXECUTIONS, execution), *((STEPS, row) for row in step_rows)],
        answer=(SUBJECT_KIND, execution_id),
        covers=quote,
    )


def _input_row(given: NodeInput) -> dict[str, object]:
    value = (
        [{"name": n, "value": v} for n, v in given.value] if isinstance(given.value, list) else given.value
    )
    if given.setting == IMAGE_URL and isinstance(value, str) and len(value) > 200:
        value = value[:64] + "…"  # a data URL is kept as its start: the picture itself is stored
    return {"nodeId": given.node_id, "settingName": given.setting, "value": value}


def get_execution(ctx: Context, principal: Principal, execution_id: str) -> ExecutionView:
    """The caller's execution with each step's state, queue position and progress; 404 for anyone else's."""
    with ctx.db.read() as session:
        execution = store.get(session, execution_id, account_id=principal.account_id)
        if execution is None:
            raise NotFound(f"No blueprint execution with id {execution_id!r}")
        steps = [
            StepView(
                step,
                progress.of_generation(session, step.generation_id)
                if step.status == store.ADMITTED
                else None,
            )
            for step in execution.steps
        ]
        started = any(view.step.status != store.WAITING for view in steps[1:]) or any(
            view.standing is not None and view.standing.state == "running" for view in steps
        )
        status = store.PENDING if execution.status == store.QUEUED and started else execution.status
        return ExecutionView(execution, status, steps)


def execution_generations(
    ctx: Context, principal: Principal, execution_id: str, paging: Paging
) -> Page[tuple[BlueprintStep, Generation]]:
    """The generations the execution's steps produced (and are producing), in step order."""
    with ctx.db.read() as session:
        execution = store.get(session, execution_id, account_id=principal.account_id)
        if execution is None:
            raise NotFound(f"No blueprint execution with id {execution_id!r}")
        rows = store.generations_of(session, execution)
        return page(rows, lambda row: row[0].id, paging)
