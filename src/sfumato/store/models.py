"""Tables. Column names are sfumato's own; the wire spelling lives in ``api/schemas``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from sfumato.store.clock import utcnow


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, datetime: DateTime()}


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    credit_balance: Mapped[int] = mapped_column(BigInteger, default=0)
    concurrency_slots: Mapped[int] = mapped_column(Integer, default=2)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccountPolicy(Base):
    """An account's content policy, as the operator set it: the mode for unsafe outputs
    (flag | blur | withhold; None: flag), its own extra prompt rules, and the operator's
    rule categories that do not apply to it."""

    __tablename__ = "account_policies"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    mode: Mapped[str | None] = mapped_column(String(16), default=None)
    rules: Mapped[dict[str, Any]] = mapped_column(default=dict)  # category -> {terms, patterns}
    allowed: Mapped[list[str]] = mapped_column(JSON, default=list)  # categories lifted for it
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # Leonardo's per-key callback (URL + the bearer key sent to it) and sfumato's signing secret.
    webhook_url: Mapped[str | None] = mapped_column(Text, default=None)
    webhook_key: Mapped[str | None] = mapped_column(Text, default=None)
    webhook_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    webhook_disabled_at: Mapped[datetime | None] = mapped_column(default=None)  # the receiver said 410

    account: Mapped[Account] = relationship(lazy="joined")


class CreditEntry(Base):
    """One line of the credit ledger; an account's balance is the sum of its entries."""

    __tablename__ = "credit_ledger"
    __table_args__ = (Index("ix_credit_ledger_subject", "subject_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # grant | debit | refund
    # What a debit or refund was for: a generation, a variation, a realtime request, a prompt …
    subject_kind: Mapped[str | None] = mapped_column(String(32), default=None)
    subject_id: Mapped[str | None] = mapped_column(String(36), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Generation(Base):
    __tablename__ = "generations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    api_key_id: Mapped[str | None] = mapped_column(String(36), default=None)
    status: Mapped[str] = mapped_column(String(16), default="PENDING")  # PENDING | COMPLETE | FAILED
    model_id: Mapped[str] = mapped_column(String(64))
    model_key: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(Text)
    negative_prompt: Mapped[str | None] = mapped_column(Text, default=None)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    num_images: Mapped[int] = mapped_column(Integer)
    steps: Mapped[int] = mapped_column(Integer)
    guidance_scale: Mapped[float] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(BigInteger)
    scheduler: Mapped[str] = mapped_column(String(40))
    preset_style: Mapped[str | None] = mapped_column(String(40), default=None)
    tiling: Mapped[bool] = mapped_column(Boolean, default=False)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    flags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    credit_cost: Mapped[int] = mapped_column(Integer, default=0)
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)
    lineage: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Image-to-image and canvas lineage: the source image and mask, by id and by the content
    # hash of the bytes used. Plain ids, not foreign keys: deleting a source keeps the record.
    init_image_id: Mapped[str | None] = mapped_column(String(36), default=None)
    init_generated_image_id: Mapped[str | None] = mapped_column(String(36), default=None)
    init_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    init_strength: Mapped[float | None] = mapped_column(Float, default=None)
    mask_image_id: Mapped[str | None] = mapped_column(String(36), default=None)
    mask_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    canvas_type: Mapped[str | None] = mapped_column(String(16), default=None)
    # A video clip (0013): the motion model name asked for (MOTION2, VEO3 …; None for images),
    # SVD's motion strength, and the end frame's picture (its first frame is the init image above).
    motion_model: Mapped[str | None] = mapped_column(String(40), default=None)
    motion_strength: Mapped[int | None] = mapped_column(Integer, default=None)
    end_frame_image_id: Mapped[str | None] = mapped_column(String(36), default=None)
    end_frame_generated: Mapped[bool | None] = mapped_column(Boolean, default=None)
    end_frame_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    # Hash of the account and every parameter of a seeded request (request de-duplication).
    request_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    # A replay names the generation it re-ran (a plain id: the original may be deleted later).
    replay_of: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    images: Mapped[list[GeneratedImage]] = relationship(
        back_populates="generation",
        order_by="GeneratedImage.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )

    __table_args__ = (
        Index("ix_generations_account_created", "account_id", "created_at"),
        Index("ix_generations_request_hash", "account_id", "request_hash", "created_at"),
    )


class GeneratedImage(Base):
    __tablename__ = "generated_images"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(BigInteger)
    blob_key: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(40))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)  # None: recorded before 0012
    nsfw: Mapped[bool] = mapped_column(Boolean, default=False)  # the output safety classifier's flag
    # A video output is an image row too (its poster in the columns above, as Leonardo's wire
    # has a generated image with a motion URL); the video's own blob and facts sit beside it.
    media_type: Mapped[str] = mapped_column(String(16), default="image", server_default="image")
    video_blob_key: Mapped[str | None] = mapped_column(String(300), default=None)
    video_size_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    video_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    duration_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    fps: Mapped[float | None] = mapped_column(Float, default=None)
    frame_count: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    generation: Mapped[Generation] = relationship(back_populates="images")
    # Deleting an image deletes its variations in the database (ON DELETE CASCADE).
    variations: Mapped[list[Variation]] = relationship(
        order_by="(Variation.created_at, Variation.id)", lazy="selectin", viewonly=True
    )


class InitImage(Base):
    """An image a client uploads (through a presigned form) to edit or to start from."""

    __tablename__ = "init_images"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    blob_key: Mapped[str] = mapped_column(String(300), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UploadedMedia(Base):
    """An image or short video a client uploads (``/media``) for later jobs.

    ``status`` is 'awaiting_upload' until a file has been received and checked, then
    'ready' with what the check found (size, duration, frame rate, codec …). A refused file
    is not kept; ``status_reason`` says why it was refused, and the form may be used again.
    """

    __tablename__ = "uploaded_media"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    blob_key: Mapped[str] = mapped_column(String(300), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    media_type: Mapped[str] = mapped_column(String(16))  # image | video
    status: Mapped[str] = mapped_column(String(16), default="awaiting_upload")
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    thumbnail_key: Mapped[str | None] = mapped_column(String(300), default=None)
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    duration_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    fps: Mapped[float | None] = mapped_column(Float, default=None)
    frame_count: Mapped[int | None] = mapped_column(Integer, default=None)
    codec: Mapped[str | None] = mapped_column(String(32), default=None)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    """A unit of work in the queue. States: queued, running, succeeded, failed, cancelled."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[str] = mapped_column(String(36))
    generation_id: Mapped[str | None] = mapped_column(String(36), index=True, default=None)
    lane: Mapped[int] = mapped_column(Integer, default=1)  # 0 realtime, 1 interactive, 2 batch
    # Scheduling facts copied out of the payload so claims can filter on them in SQL:
    # the model (worker capabilities, affinity) and the batch key (dynamic batching).
    model_key: Mapped[str | None] = mapped_column(String(200), default=None)
    batch_key: Mapped[str | None] = mapped_column(String(64), default=None)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    # Leases granted so far, hand-backs included (``attempts`` is not: a hand-back gives its
    # attempt back). The running lease's number; each lease files its outputs under it.
    leases: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    # What the job works for when that is not a generation (a variation, a realtime request):
    # its GET finds the job's queue position and progress through this id.
    subject_id: Mapped[str | None] = mapped_column(String(36), index=True, default=None)
    # The running attempt's latest {stage, step, total, updated_at}, written by its lease
    # holder at a bounded rate; cleared when a new lease is granted.
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_jobs_claim", "state", "lane", "created_at"),
        Index("ix_jobs_lease", "state", "lease_expires_at"),
        Index("ix_jobs_account_state", "account_id", "state"),
        Index("ix_jobs_batch", "state", "batch_key", "lane", "created_at"),
    )


class WorkerRecord(Base):
    """A live worker's advertisement: what it can run and what it holds, refreshed while it runs."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    device: Mapped[str] = mapped_column(String(40))
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    models: Mapped[list[str] | None] = mapped_column(JSON, default=None)  # None: any model it has
    loaded_models: Mapped[list[str]] = mapped_column(JSON, default=list)
    free_memory_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    running_jobs: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="running")  # running | stopping
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class Variation(Base):
    """A job's result on an existing image: an upscale, an unzoom, a background removal.

    ``generated_image_id`` is the generated image the chain started from (the generation
    lists its variations there), ``parent_variation_id`` the variation it was made from,
    ``init_image_id`` the uploaded image it was made from; at most one of the last two.
    """

    __tablename__ = "variations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    generated_image_id: Mapped[str | None] = mapped_column(
        ForeignKey("generated_images.id", ondelete="CASCADE"), index=True, default=None
    )
    parent_variation_id: Mapped[str | None] = mapped_column(String(36), default=None)
    init_image_id: Mapped[str | None] = mapped_column(String(36), default=None)
    transform: Mapped[str] = mapped_column(String(16))  # UPSCALE | UNZOOM | NOBG
    status: Mapped[str] = mapped_column(String(16), default="PENDING")  # PENDING | COMPLETE | FAILED
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    blob_key: Mapped[str | None] = mapped_column(String(300), default=None)
    content_type: Mapped[str | None] = mapped_column(String(40), default=None)
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    nsfw: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    credit_cost: Mapped[int] = mapped_column(Integer, default=0)
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)
    lineage: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RealtimeRequest(Base):
    """A realtime canvas request while its caller waits, and its record afterwards.

    The API server writes it with the job and waits for its status to change; the worker
    records the output's blob there (none when it handed the output back in memory, being in
    the same process). A caller that gave up marks it ABANDONED, and a late
    result for it is thrown away instead of recorded.
    """

    __tablename__ = "realtime_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    operation: Mapped[str] = mapped_column(String(16))  # generate | refine | inpaint | upscale
    status: Mapped[str] = mapped_column(String(16), default="PENDING")  # … | COMPLETE | FAILED | ABANDONED
    input_keys: Mapped[dict[str, Any]] = mapped_column(default=dict)  # role → blob key
    output_key: Mapped[str | None] = mapped_column(String(300), default=None)
    credit_cost: Mapped[int] = mapped_column(Integer, default=0)
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)
    lineage: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookDelivery(Base):
    """One event for one receiver: the outbox row, written with the job's end, and its delivery state.

    States: pending (due at ``next_attempt_at``), delivered (a 2xx came back), failed (out
    of attempts), disabled (the receiver answered 410). ``body`` is rendered on the first
    attempt and then fixed, so every retry sends the same bytes under the same event id.
    """

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    api_key_id: Mapped[str] = mapped_column(String(36))
    url: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[str | None] = mapped_column(String(36), default=None)
    job_kind: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(String(36), default=None)  # the generation, usually
    body: Mapped[str | None] = mapped_column(Text, default=None)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    last_status: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_account", "account_id", "created_at"),
    )


class WebhookAttempt(Base):
    """One HTTP attempt at delivering an event, kept for operators and receivers to inspect."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyRecord(Base):
    """A creating request made under an ``Idempotency-Key``: its body's hash and, once done, its response.

    ``status_code`` is None while the first request is still running.
    """

    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(Text)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    response_body: Mapped[str | None] = mapped_column(Text, default=None)
    # What the request created, written in the same transaction: a retry after a crash between
    # that commit and the stored response is answered with it instead of creating another.
    subject_kind: Mapped[str | None] = mapped_column(String(32), default=None)
    subject_id: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()

    __table_args__ = (UniqueConstraint("account_id", "key", name="uq_idempotency_account_key"),)


class StudioSession(Base):
    """A studio sign-in: the API key it was exchanged for, until it ends or expires.

    Only the SHA-256 of the cookie's token is kept, as for keys; revoking the key ends
    every session made from it (the lookup joins the key and requires it active).
    """

    __tablename__ = "studio_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    api_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()

    api_key: Mapped[ApiKey] = relationship(lazy="joined")


class BlueprintExecution(Base):
    """One run of a blueprint version for an account: its inputs, its quote and its state.

    States: QUEUED (no step has started), PENDING (a step runs or waits), COMPLETED, FAILED
    (``failure_reason`` says which step and why). Its steps are rows of
    :class:`BlueprintStep`, each run by one job once its predecessor completed.
    """

    __tablename__ = "blueprint_executions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    api_key_id: Mapped[str | None] = mapped_column(String(36), default=None)
    blueprint_id: Mapped[str] = mapped_column(String(36))
    version_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16), default="QUEUED")
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    inputs: Mapped[list[Any]] = mapped_column(JSON, default=list)  # the node inputs as given
    collection_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    quote: Mapped[int] = mapped_column(Integer, default=0)  # the sum of its steps' prices
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    steps: Mapped[list[BlueprintStep]] = relationship(
        order_by="BlueprintStep.position", cascade="all, delete-orphan", lazy="selectin"
    )


class BlueprintStep(Base):
    """One step of an execution: the job it runs once admitted, planned and priced in advance.

    ``job_kind`` and ``job_payload`` are the step's job as the execution planned it, less its
    input picture (``source_field`` names where the predecessor's output goes); ``generation``
    the columns of the generation that records its output, whose id (``generation_id``) is
    reserved in advance. States: waiting, admitted (charged and queued), completed, failed,
    cancelled (never admitted: an earlier step failed).
    """

    __tablename__ = "blueprint_steps"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    execution_id: Mapped[str] = mapped_column(
        ForeignKey("blueprint_executions.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    node_id: Mapped[str] = mapped_column(String(64))
    task: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    cost: Mapped[int] = mapped_column(Integer, default=0)
    job_kind: Mapped[str] = mapped_column(String(32))
    job_payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source_field: Mapped[str | None] = mapped_column(String(32), default=None)
    generation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    generation_id: Mapped[str] = mapped_column(String(36), index=True)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("execution_id", "position", name="uq_blueprint_steps_position"),)
