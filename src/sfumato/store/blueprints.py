"""Blueprint executions and their steps: the rows, and the reads the API needs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sfumato.store.clock import utcnow
from sfumato.store.models import BlueprintExecution, BlueprintStep, Generation

# Execution states (Leonardo's wire words) and step states (sfumato's).
QUEUED, PENDING, COMPLETED, FAILED = "QUEUED", "PENDING", "COMPLETED", "FAILED"
WAITING, ADMITTED, DONE, STEP_FAILED, CANCELLED = "waiting", "admitted", "completed", "failed", "cancelled"


def get(
    session: Session, execution_id: str, *, account_id: str, lock: bool = False
) -> BlueprintExecution | None:
    """The account's execution (None for another account's: its ids are not to be guessed)."""
    execution = session.get(BlueprintExecution, execution_id, with_for_update=lock)
    return execution if execution is not None and execution.account_id == account_id else None


def step_at(session: Session, execution_id: str, position: int) -> BlueprintStep | None:
    return session.scalars(
        select(BlueprintStep)
        .where(BlueprintStep.execution_id == execution_id, BlueprintStep.position == position)
        .with_for_update()
    ).first()


def fail(execution: BlueprintExecution, reason: str) -> None:
    """The execution failed for good: the steps never admitted are cancelled (never charged)."""
    execution.status = FAILED
    execution.failure_reason = reason
    execution.updated_at = utcnow()
    for step in execution.steps:
        if step.status == WAITING:
            step.status = CANCELLED


def generations_of(session: Session, execution: BlueprintExecution) -> list[tuple[BlueprintStep, Generation]]:
    """The generations the execution's admitted steps record, in step order."""
    rows = session.execute(
        select(BlueprintStep, Generation)
        .join(Generation, Generation.id == BlueprintStep.generation_id)
        .where(BlueprintStep.execution_id == execution.id)
        .order_by(BlueprintStep.position)
    ).all()
    return [(step, generation) for step, generation in rows]


def step_abandoned(session: Session, generation_id: str) -> None:
    """A step's generation was deleted before its job started (the job is cancelled, its charge
    refunded): its execution fails there, and nothing after it runs."""
    step = session.scalars(
        select(BlueprintStep).where(
            BlueprintStep.generation_id == generation_id, BlueprintStep.status == ADMITTED
        )
    ).first()
    execution = session.get(BlueprintExecution, step.execution_id, with_for_update=True) if step else None
    if step is None or execution is None:
        return
    step.status = CANCELLED
    step.error = "its generation was deleted before it ran"
    fail(execution, f"step {step.node_id!r}: {step.error}")
