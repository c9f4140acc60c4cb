"""Batch runners: several claimed jobs of one kind and batch key, run as one engine call.

``BATCH_RUNNERS`` maps a job kind to a runner that takes ``(attempt, payload)`` pairs
and returns one result per job, in order. Kinds without an entry run one job at a time
through ``tasks.RUNNERS``; the worker also falls back to that when a batch fails, so one
bad job cannot fail the jobs it was batched with.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sfumato.blobs import BlobStore
from sfumato.engine import Engine
from sfumato.worker.outcomes import Attempt
from sfumato.worker.tasks import TaskResult, store_images, text_to_image_spec

BatchRunner = Callable[[Engine, BlobStore, Sequence[tuple[Attempt, dict[str, Any]]]], list[TaskResult]]


def run_text_to_image_batch(
    engine: Engine, blobs: BlobStore, jobs: Sequence[tuple[Attempt, dict[str, Any]]]
) -> list[TaskResult]:
    outputs = engine.text_to_image_batch([text_to_image_spec(payload) for _, payload in jobs])
    return [
        (store_images(blobs, attempt, output.images, output.seeds), dict(output.lineage))
        for (attempt, _), output in zip(jobs, outputs, strict=True)
    ]


BATCH_RUNNERS: dict[str, BatchRunner] = {
    "text_to_image": run_text_to_image_batch,
}
