"""A job kind: everything the system knows about one kind of work, declared in one place.

A kind names its typed, versioned payload (one dataclass, encoded and decoded here and
nowhere else), its runner and optional batch runner, its subject (where its end is
recorded), the artifacts it produces, its lane, the models it needs, where its attempts
put their outputs and its webhook event name. The service builds a payload and asks the
kind for the job's row; the worker asks the kind to decode, run and record it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from pydantic import TypeAdapter, ValidationError

from sfumato.engine.errors import EngineError
from sfumato.jobs.artifacts import IMAGE, Artifact, ArtifactType, Attempt, TaskResult

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from sfumato.blobs import BlobStore
    from sfumato.engine import Engine
    from sfumato.store.models import Job

P = TypeVar("P")
P_contra = TypeVar("P_contra", contravariant=True)
VERSION_FIELD = "v"

Runner = Callable[["Engine", "BlobStore", Attempt, P], TaskResult]
BatchRunner = Callable[["Engine", "BlobStore", Sequence[tuple[Attempt, P]]], list[TaskResult]]


class Subject(Protocol[P_contra]):
    """What a job works for: a generation, a variation, a realtime request …

    ``complete`` and ``fail`` run inside the transaction that holds the job's lease, so the
    subject's new state, a failure's refund and the job's own state commit together.
    """

    def complete(
        self,
        session: Session,
        job: Job,
        payload: P_contra,
        artifacts: list[Artifact],
        lineage: dict[str, object],
    ) -> bool:
        """Record the results; False when the subject is gone, so the outputs are garbage."""

    def fail(self, session: Session, job: Job, payload: P_contra, reason: str) -> None:
        """Record a failure for good and refund it."""

    def webhook_target(self, session: Session, job: Job, payload: P_contra) -> tuple[str | None, str | None]:
        """Whose webhook hears of the job's end (an API key id) and the id the event names."""


@dataclass(frozen=True)
class JobKind(Generic[P]):
    name: str  # the queue's ``jobs.kind``
    payload: type[P]  # a dataclass; a field added later needs a default, a change of meaning a new version
    version: int
    run: Runner[P]
    subject: Subject[P]
    lane: int
    models: Callable[[P], tuple[str, ...]]  # what the runner loads; the first is the job's model_key
    output_keys: Callable[[Attempt, P], list[str]]  # every key an attempt may write (posters too)
    artifacts: tuple[ArtifactType, ...] = (IMAGE,)  # what its runner returns: image, video, weights, mesh
    event: str | None = None  # webhook events ``<event>.complete`` / ``<event>.failed``; None: none
    run_batch: BatchRunner[P] | None = None
    batch_key: Callable[[P], str | None] = field(default=lambda _payload: None)
    # The id of what the job works for, when that is not a generation (a generation's jobs
    # carry ``generation_id``): its GET finds the job's queue position and progress by it.
    subject_id: Callable[[P], str | None] = field(default=lambda _payload: None)

    @cached_property
    def _adapter(self) -> TypeAdapter[P]:
        return TypeAdapter(self.payload)

    def encode(self, payload: P) -> dict[str, Any]:
        """The payload as the job row stores it, stamped with this kind's payload version."""
        data: dict[str, Any] = self._adapter.dump_python(payload, mode="json")
        data[VERSION_FIELD] = self.version
        return data

    def decode(self, data: dict[str, Any]) -> P:
        """The payload a job row holds (written by this version or an earlier one)."""
        fields = dict(data)
        version = int(fields.pop(VERSION_FIELD, 1))
        if version > self.version:
            raise EngineError(
                f"a {self.name} job written by a newer sfumato (payload v{version}; this one reads "
                f"up to v{self.version}): upgrade this worker"
            )
        try:
            return self._adapter.validate_python(fields)
        except ValidationError as exc:
            raise EngineError(f"a {self.name} job's payload does not decode: {exc}") from None

    def job_row(
        self, payload: P, *, account_id: str, max_attempts: int, generation_id: str | None = None
    ) -> dict[str, Any]:
        """The queue row's columns for a new job of this kind (id and state left to the queue)."""
        models = self.models(payload)
        return {
            "kind": self.name,
            "account_id": account_id,
            "generation_id": generation_id,
            "payload": self.encode(payload),
            "lane": self.lane,
            "max_attempts": max_attempts,
            "model_key": models[0] if models else None,
            "batch_key": self.batch_key(payload),
            "subject_id": self.subject_id(payload),
        }

    def run_job(self, engine: Engine, blobs: BlobStore, attempt: Attempt, data: dict[str, Any]) -> TaskResult:
        return self.run(engine, blobs, attempt, self.decode(data))

    def run_jobs(
        self, engine: Engine, blobs: BlobStore, jobs: Sequence[tuple[Attempt, dict[str, Any]]]
    ) -> list[TaskResult]:
        assert self.run_batch is not None
        return self.run_batch(engine, blobs, [(attempt, self.decode(data)) for attempt, data in jobs])

    def outputs(self, attempt: Attempt, data: dict[str, Any]) -> list[str]:
        """Where the attempt may have written, from a stored payload (empty if it does not decode)."""
        try:
            payload = self.decode(data)
        except EngineError:
            return []
        return self.output_keys(attempt, payload)
