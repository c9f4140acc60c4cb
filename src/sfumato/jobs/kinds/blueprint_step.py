"""A blueprint's step: one job of another kind, run for an execution.

The step's payload carries the job it runs — a text-to-image, a variation (background
removal, upscale) or a video payload, its input picture already the predecessor's output —
and that kind's runner runs it unchanged. What differs is where its end is recorded
(:class:`BlueprintStepSubject`): on the step's generation, and then on the execution, which
admits its next step in the same transaction. So a worker killed mid-step loses nothing: the
step's job is run again (by the queue's lease rules) while the steps before it, whose jobs
succeeded, are never run again; and a step is charged only as it is admitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sfumato.blobs import BlobStore
from sfumato.engine import Engine
from sfumato.engine.errors import EngineError
from sfumato.jobs.artifacts import Artifact, Attempt, TaskResult
from sfumato.jobs.kind import JobKind
from sfumato.jobs.kinds import text_to_image, variation, video
from sfumato.jobs.subjects import GenerationSubject
from sfumato.store import blueprints as store
from sfumato.store import credits, queue
from sfumato.store.models import BlueprintExecution, BlueprintStep, Generation, Job

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

NAME = "blueprint_step"
# The kinds a step may run, by name.
STEP_KINDS: dict[str, JobKind[Any]] = {
    kind.name: kind for kind in (text_to_image.KIND, variation.KIND, video.KIND)
}


@dataclass(frozen=True, kw_only=True)
class BlueprintStepPayload:
    execution_id: str
    position: int  # 0 for the first step
    kind: str  # one of STEP_KINDS
    step: dict[str, Any] = field(default_factory=dict)  # that kind's encoded payload


def step_kind(name: str) -> JobKind[Any]:
    kind = STEP_KINDS.get(name)
    if kind is None:
        raise EngineError(f"a blueprint step of unknown kind {name!r}")
    return kind


def run(engine: Engine, blobs: BlobStore, attempt: Attempt, payload: BlueprintStepPayload) -> TaskResult:
    return step_kind(payload.kind).run_job(engine, blobs, attempt, payload.step)


def _models(payload: BlueprintStepPayload) -> tuple[str, ...]:
    kind = step_kind(payload.kind)
    return kind.models(kind.decode(payload.step))


class BlueprintStepSubject:
    """The step's generation records its output; the execution then admits its next step (its
    input picture this step's output), or completes. A failure fails the generation (refunding
    this step) and the execution; the steps after it were never charged."""

    _generation = GenerationSubject()

    def complete(
        self,
        session: Session,
        job: Job,
        payload: BlueprintStepPayload,
        artifacts: list[Artifact],
        lineage: dict[str, object],
    ) -> bool:
        recorded = self._generation.complete(session, job, payload, artifacts, lineage)
        execution = session.get(BlueprintExecution, payload.execution_id, with_for_update=True)
        step = store.step_at(session, payload.execution_id, payload.position)
        if execution is None or step is None or execution.status == store.FAILED:
            return recorded
        if not recorded:  # its generation was deleted while it ran: nothing to hand on
            step.status = store.CANCELLED
            store.fail(execution, f"step {step.node_id!r}: its generation was deleted while it ran")
            return False
        step.status = store.DONE
        following = store.step_at(session, execution.id, payload.position + 1)
        if following is None:
            execution.status = store.COMPLETED
            return True
        execution.status = store.PENDING
        source = artifacts[0].picture().blob_key
        if not admit(session, execution, following, source_key=source, max_attempts=job.max_attempts):
            following.status = store.STEP_FAILED
            following.error = f"the balance no longer covers its {following.cost} credits"
            store.fail(execution, f"step {following.node_id!r}: {following.error}")
        return True

    def fail(self, session: Session, job: Job, payload: BlueprintStepPayload, reason: str) -> None:
        self._generation.fail(session, job, payload, reason)
        execution = session.get(BlueprintExecution, payload.execution_id, with_for_update=True)
        step = store.step_at(session, payload.execution_id, payload.position)
        if execution is None or step is None or execution.status == store.FAILED:
            return
        step.status = store.STEP_FAILED
        step.error = reason
        store.fail(execution, f"step {step.node_id!r} ({step.task}) failed: {reason}")

    def webhook_target(
        self, session: Session, job: Job, payload: BlueprintStepPayload
    ) -> tuple[str | None, str | None]:
        return self._generation.webhook_target(session, job, payload)


def admit(
    session: Session,
    execution: BlueprintExecution,
    step: BlueprintStep,
    *,
    source_key: str | None,
    max_attempts: int,
) -> bool:
    """Charge a later step, write its generation and queue its job, its input picture at
    ``source_key``; False, with nothing written, when the balance does not cover it.

    (An execution's first step is admitted with the execution, through the common
    admission: ``service.blueprints``.)"""
    if not credits.debit(
        session,
        account_id=execution.account_id,
        amount=step.cost,
        subject_kind=credits.SubjectKind.GENERATION,
        subject_id=step.generation_id,
    ):
        return False
    session.add(
        Generation(
            **generation_row(
                step.generation,
                generation_id=step.generation_id,
                account_id=execution.account_id,
                api_key_id=execution.api_key_id,
                cost=step.cost,
            )
        )
    )
    row = step_job(
        execution.id,
        step.position,
        kind=step.job_kind,
        payload=step.job_payload,
        source_field=step.source_field,
        source_key=source_key,
        account_id=execution.account_id,
        generation_id=step.generation_id,
        max_attempts=max_attempts,
    )
    queue.enqueue(session, **row)  # an execution under way is not held to the queue cap
    step.status = store.ADMITTED
    return True


def generation_row(
    columns: dict[str, Any], *, generation_id: str, account_id: str, api_key_id: str | None, cost: int
) -> dict[str, Any]:
    """The columns of the generation a step records its output on, from those it planned."""
    return {
        **columns,
        "id": generation_id,
        "account_id": account_id,
        "api_key_id": api_key_id,
        "credit_cost": cost,
    }


def step_job(
    execution_id: str,
    position: int,
    *,
    kind: str,
    payload: dict[str, Any],
    source_field: str | None,
    source_key: str | None,
    account_id: str,
    generation_id: str,
    max_attempts: int,
) -> dict[str, Any]:
    """The queue row of an execution's step: its planned ``payload`` of ``kind``, its input
    picture (at ``source_key``) put in ``source_field``."""
    encoded = dict(payload)
    if source_field is not None:
        encoded[source_field] = source_key
    step = BlueprintStepPayload(execution_id=execution_id, position=position, kind=kind, step=encoded)
    return job_row(step, account_id=account_id, max_attempts=max_attempts, generation_id=generation_id)


KIND: JobKind[BlueprintStepPayload] = JobKind(
    name=NAME,
    payload=BlueprintStepPayload,
    version=1,
    run=run,
    subject=BlueprintStepSubject(),
    lane=queue.INTERACTIVE,
    models=_models,
    output_keys=lambda attempt, payload: step_kind(payload.kind).outputs(attempt, payload.step),
    artifacts=("image", "video"),
    event=text_to_image.IMAGE_GENERATION_EVENT,  # each step's generation, as any generation's
)


def job_row(
    payload: BlueprintStepPayload, *, account_id: str, max_attempts: int, generation_id: str
) -> dict[str, Any]:
    """The step's queue row: in the lane of the kind it runs (a clip waits in the batch lane)."""
    row = KIND.job_row(payload, account_id=account_id, max_attempts=max_attempts, generation_id=generation_id)
    row["lane"] = step_kind(payload.kind).lane
    return row
