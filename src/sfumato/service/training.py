"""Custom models and elements: LoRAs trained on an account's dataset, then used in generations.

Both are one use case with two wire faces: ``/models`` (a custom model, applied whole by its
id as ``modelId``) and ``/elements`` (an element, applied with a weight through
``userElements``). Creating one validates the dataset (its pictures decoded within the
limits; their content hashes become the model's dataset version), resolves the base model
from Leonardo's ``sd_version`` (mapped in ``SFUMATO_TRAINING_BASE_MODELS``, else the catalog's
model of that version), prices it, and admits its training job with its row and its debit in
one transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from sfumato.blobs import BlobStore
from sfumato.engine.catalog import ModelEntry
from sfumato.engine.families import traits
from sfumato.engine.lora_objectives import TRAINABLE_FAMILIES
from sfumato.errors import InvalidRequest, NotFound
from sfumato.jobs.kinds import training as training_kind
from sfumato.service import admission, availability
from sfumato.service.context import Context
from sfumato.service.datasets import training_images
from sfumato.service.keys import Principal
from sfumato.store import credits, progress, queue
from sfumato.store import trained_loras as store
from sfumato.store.clock import utcnow
from sfumato.store.models import Job, new_id
from sfumato.store.training_tables import ELEMENT, MODEL, TrainedLora

SUBJECT_KIND = "training"  # the credit ledger's name for what a training's debit was for
LORAS: Table = TrainedLora.__table__  # type: ignore[assignment]
MIN_RESOLUTION, MAX_RESOLUTION = 64, 1024
# Optimizer steps per dataset picture for a custom model's ``strength``.
STRENGTH_STEPS_PER_IMAGE = {"VERY_LOW": 25, "LOW": 50, "MEDIUM": 100, "HIGH": 150}
MODEL_LEARNING_RATE = 1e-4
MAX_LEARNING_RATE = 1.0


@dataclass(frozen=True)
class TrainingRequest:
    """A custom model or element to train, in sfumato's words."""

    purpose: str  # MODEL or ELEMENT
    name: str
    dataset_id: str
    instance_prompt: str
    description: str | None = None
    sd_version: str | None = None
    resolution: int = 512
    learning_rate: float | None = None
    strength: str = "MEDIUM"  # custom models: how long to train
    epochs: int | None = None  # elements: passes over the dataset
    train_text_encoder: bool = False
    focus: str | None = None  # elements' lora_focus
    model_type: str = "GENERAL"
    nsfw: bool = False


@dataclass(frozen=True)
class CreatedTraining:
    uuid: str
    lora_id: int
    credit_cost: int


@dataclass(frozen=True)
class TrainedLoraView:
    id: int
    uuid: str
    purpose: str
    name: str
    description: str | None
    instance_prompt: str
    base_model_key: str
    sd_version: str | None
    settings: dict[str, Any]
    status: str
    failure_reason: str | None
    lineage: dict[str, Any]
    evaluation: list[dict[str, Any]]  # the prompt suite's pictures, with their urls
    standing: progress.Standing | None  # queue position or progress while PENDING
    created_at: datetime
    updated_at: datetime


def create_training(ctx: Context, principal: Principal, request: TrainingRequest) -> CreatedTraining:
    """Validate, price and admit a training; its job trains and evaluates the LoRA."""
    field = "datasetId"
    if not request.name.strip():
        raise InvalidRequest("name must not be empty")
    entry = base_model(ctx, request.sd_version, request.purpose)
    resolution = _resolution(request.resolution, traits(entry.family).size_step, entry.key)
    learning_rate = request.learning_rate if request.learning_rate is not None else MODEL_LEARNING_RATE
    if not 0 < learning_rate <= MAX_LEARNING_RATE:
        raise InvalidRequest(f"learning_rate must be above 0 and at most {MAX_LEARNING_RATE}")
    pictures = training_images(ctx, principal, request.dataset_id, field=field)
    steps = _steps(ctx, request, len(pictures))
    # Priced as the calculator quotes it: FLUX.1 [dev] per picture, the others by resolution.
    cost = ctx.pricing.model_training(
        resolution=resolution, dataset_images=len(pictures), flux_dev=request.sd_version == "FLUX_DEV"
    )
    uuid = new_id()
    settings = ctx.settings
    payload = training_kind.TrainingPayload(
        lora_uuid=uuid,
        model_key=entry.key,
        instance_prompt=request.instance_prompt,
        pictures=tuple(training_kind.DatasetPicture(blob_key=p.blob_key, sha256=p.sha256) for p in pictures),
        resolution=resolution,
        steps=steps,
        learning_rate=learning_rate,
        train_text_encoder=request.train_text_encoder,
        seed=secrets.randbelow(2**31),
        checkpoint_every=settings.training_checkpoint_steps,
        suite=tuple(settings.training_suite),
        api_key_id=principal.api_key_id,
    )
    training_settings = {
        "resolution": resolution,
        "steps": steps,
        "learning_rate": learning_rate,
        "rank": payload.rank,
        "batch_size": payload.batch_size,
        "gradient_accumulation": payload.gradient_accumulation,
        "train_text_encoder": request.train_text_encoder,
        "seed": payload.seed,
        "strength": request.strength if request.purpose == MODEL else None,
        "epochs": request.epochs,
        "focus": request.focus,
        "model_type": request.model_type,
        "nsfw": request.nsfw,
        "suite": list(payload.suite),
        "suite_seed": payload.suite_seed,
    }
    now = utcnow()
    row: dict[str, Any] = {
        "uuid": uuid,
        "account_id": principal.account_id,
        "purpose": request.purpose,
        "name": request.name.strip(),
        "description": request.description,
        "dataset_id": request.dataset_id,
        "base_model_key": entry.key,
        "sd_version": entry.sd_version or None,
        "instance_prompt": request.instance_prompt,
        "settings": training_settings,
        "status": "PENDING",
        "failure_reason": None,
        "credit_cost": cost,
        "api_key_id": principal.api_key_id,
        "lineage": {
            "dataset_id": request.dataset_id,
            "dataset_version": [p.sha256 for p in pictures],
            "base_model_key": entry.key,
            "settings": training_settings,
        },
        "evaluation": {},
    }
    row["created_at"] = row["updated_at"] = now
    job = training_kind.KIND.job_row(
        payload, account_id=principal.account_id, max_attempts=settings.max_attempts
    )
    submitted = admission.submission(
        ctx,
        principal,
        cost=cost,
        subject_kind=SUBJECT_KIND,
        subject_id=uuid,
        subject_table=LORAS,
        subject=row,
        job=job,
        keyed=False,
        texts=(request.instance_prompt,),
    )
    admission.admit(ctx, submitted, "training")
    with ctx.db.read() as session:
        created = store.by_uuid(session, uuid)
        assert created is not None
        return CreatedTraining(uuid=uuid, lora_id=created.id, credit_cost=cost)


def base_model(ctx: Context, sd_version: str | None, purpose: str) -> ModelEntry:
    """The catalog model a Leonardo ``sd_version`` trains on: ``SFUMATO_TRAINING_BASE_MODELS``
    first, else the catalog's featured model of that version; it must be trainable and
    runnable here."""
    wanted = sd_version or ("v1_5" if purpose == MODEL else "SDXL_1_0")
    mapped = ctx.settings.training_base_models.get(wanted)
    entry = ctx.catalog.resolve(mapped) if mapped else None
    if entry is None:
        candidates = [e for e in ctx.catalog.entries() if e.sd_version == wanted and e.generates_images]
        candidates.sort(key=lambda e: (not e.featured, e.key))
        entry = candidates[0] if candidates else None
    if entry is None:
        raise InvalidRequest(
            f"sd_version {wanted!r} names no model here; "
            "map it to a catalog model in SFUMATO_TRAINING_BASE_MODELS"
        )
    if entry.family not in TRAINABLE_FAMILIES:
        families = ", ".join(TRAINABLE_FAMILIES)
        raise InvalidRequest(
            f"sd_version {wanted!r} is {entry.key} ({entry.family}), which cannot be trained here; "
            f"map it in SFUMATO_TRAINING_BASE_MODELS to a model of family {families}",
            code="unsupported-feature",
        )
    return availability.require(ctx, entry)


def _resolution(value: int, step: int, model_key: str) -> int:
    if not MIN_RESOLUTION <= value <= MAX_RESOLUTION or value % step:
        raise InvalidRequest(
            f"resolution must be a multiple of {step} from {MIN_RESOLUTION} to {MAX_RESOLUTION} "
            f"(512, 768, 1024 …) to train {model_key}"
        )
    return value


def _steps(ctx: Context, request: TrainingRequest, pictures: int) -> int:
    if request.purpose == ELEMENT:
        epochs = request.epochs if request.epochs is not None else 1
        if epochs < 1:
            raise InvalidRequest("num_train_epochs must be at least 1")
        wanted = epochs * pictures
    else:
        if request.strength not in STRENGTH_STEPS_PER_IMAGE:
            raise InvalidRequest(f"strength must be one of {', '.join(STRENGTH_STEPS_PER_IMAGE)}")
        wanted = STRENGTH_STEPS_PER_IMAGE[request.strength] * pictures
    return max(1, min(wanted, ctx.settings.training_max_steps))


def get_training(ctx: Context, principal: Principal, purpose: str, *, uuid: str | None = None,
                 lora_id: int | None = None) -> TrainedLoraView:  # fmt: skip
    with ctx.db.read() as session:
        row = _find(session, principal, purpose, uuid=uuid, lora_id=lora_id)
        standing = progress.of_subject(session, row.uuid) if row.status == "PENDING" else None
        return _view(ctx, row, standing)


def list_trainings(ctx: Context, principal: Principal, purpose: str, user_id: str) -> list[TrainedLoraView]:
    """The caller's own custom models or elements; another account's id lists nothing."""
    if user_id != principal.account_id:
        return []
    with ctx.db.read() as session:
        return [_view(ctx, row, None) for row in store.of_account(session, principal.account_id, purpose)]


def delete_training(ctx: Context, principal: Principal, purpose: str, *, uuid: str | None = None,
                    lora_id: int | None = None) -> TrainedLora:  # fmt: skip
    """Delete the row and its files. A training still queued is cancelled and refunded; one
    running is told to stop (it checks between steps), records nothing and is refunded."""
    running = False
    with ctx.db.transaction() as session:
        row = _find(session, principal, purpose, uuid=uuid, lora_id=lora_id)
        keys = [row.weights_key] if row.weights_key else []
        keys += [str(image["blob_key"]) for image in row.evaluation.get("images", [])]
        for job in session.scalars(select(Job).where(Job.subject_id == row.uuid).with_for_update()):
            if job.state == queue.QUEUED:
                queue.finish(job, state=queue.CANCELLED, error="deleted before it started")
                credits.refund(session, account_id=principal.account_id, subject_id=row.uuid, note="deleted")
            running |= job.state == queue.RUNNING
        session.delete(row)
        session.flush()
        session.expunge(row)
    if running:
        ctx.blobs.put(training_kind.cancel_key(row.uuid), b"deleted", "text/plain")
    for key in keys:
        ctx.blobs.delete(key)
    return row


def _find(
    session: Session, principal: Principal, purpose: str, *, uuid: str | None, lora_id: int | None
) -> TrainedLora:
    what = "custom model" if purpose == MODEL else "element"
    row = None
    if uuid is not None:
        row = store.by_uuid(session, uuid, account_id=principal.account_id, purpose=purpose)
    elif lora_id is not None:
        row = store.by_id(session, lora_id, account_id=principal.account_id, purpose=purpose)
    if row is None:
        raise NotFound(f"No {what} with id {uuid if uuid is not None else lora_id!r}")
    return row


def _view(ctx: Context, row: TrainedLora, standing: progress.Standing | None) -> TrainedLoraView:
    return training_view(row, ctx.blobs, standing)


def training_view(
    row: TrainedLora, blobs: BlobStore, standing: progress.Standing | None = None
) -> TrainedLoraView:
    """A trained LoRA's row as the API and its webhook events render it."""
    evaluation = [
        {**image, "url": blobs.url(str(image["blob_key"]))} for image in row.evaluation.get("images", [])
    ]
    return TrainedLoraView(
        id=row.id,
        uuid=row.uuid,
        purpose=row.purpose,
        name=row.name,
        description=row.description,
        instance_prompt=row.instance_prompt,
        base_model_key=row.base_model_key,
        sd_version=row.sd_version,
        settings=dict(row.settings),
        status=row.status,
        failure_reason=row.failure_reason,
        lineage=dict(row.lineage),
        evaluation=evaluation,
        standing=standing,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
