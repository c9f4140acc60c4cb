"""Training: a LoRA learnt from a dataset's pictures, then a prompt suite rendered with it.

The payload freezes the dataset's version (each picture's blob and content hash, read at
admission), so a training trains on what was admitted even if the dataset changes later.
Checkpoints go to the blob store under the training's own key, not the attempt's: an
attempt after a crash resumes from the last one. When training ends the job renders the
prompt suite with the new LoRA at fixed seeds; those pictures stay with the model, so two
versions trained on the same dataset can be compared picture by picture.
"""

from __future__ import annotations

import hashlib
import io
import time
from dataclasses import dataclass

from PIL import Image

from sfumato.blobs import BlobNotFound, BlobStore
from sfumato.engine import Engine, EngineError, report
from sfumato.engine.adapters import Adapter
from sfumato.engine.specs import TextToImageSpec
from sfumato.engine.train_lora import TrainingSpec, train
from sfumato.jobs.artifacts import IMAGE, WEIGHTS, Artifact, Attempt, TaskResult, artifact_key
from sfumato.jobs.kind import JobKind
from sfumato.jobs.training_subject import TrainingSubject
from sfumato.jobs.writers import store_file, store_png

NAME = "training"
TRAINING_LANE = 3  # after realtime, interactive and batch work: a training can wait its turn
EVENT = "training"


@dataclass(frozen=True, kw_only=True)
class DatasetPicture:
    blob_key: str
    sha256: str


@dataclass(frozen=True, kw_only=True)
class TrainingPayload:
    lora_uuid: str
    model_key: str
    instance_prompt: str
    pictures: tuple[DatasetPicture, ...]
    resolution: int
    steps: int
    learning_rate: float
    rank: int = 4
    batch_size: int = 1
    gradient_accumulation: int = 1
    train_text_encoder: bool = False
    seed: int = 0
    checkpoint_every: int = 50
    suite: tuple[str, ...] = ()  # the evaluation's prompts, rendered at ``suite_seed``
    suite_seed: int = 1234
    api_key_id: str | None = None


class BlobCheckpoints:
    """A training's latest checkpoint, one blob under the training's own key."""

    def __init__(self, blobs: BlobStore, key: str) -> None:
        self.blobs, self.key = blobs, key

    def load(self) -> bytes | None:
        try:
            return self.blobs.get(self.key)
        except BlobNotFound:
            return None

    def save(self, data: bytes) -> None:
        self.blobs.put(self.key, data, "application/octet-stream")


def checkpoint_key(lora_uuid: str) -> str:
    return f"trainings/{lora_uuid}/checkpoint.pt"


def cancel_key(lora_uuid: str) -> str:
    """A marker whose presence tells a running training to stop (its model was deleted)."""
    return f"trainings/{lora_uuid}/cancelled"


class Cancellation:
    """Asks the blob store whether the training was cancelled, at most every ``every`` seconds."""

    def __init__(self, blobs: BlobStore, lora_uuid: str, every: float = 2.0) -> None:
        self.blobs, self.key, self.every = blobs, cancel_key(lora_uuid), every
        self.next_check = 0.0

    def __call__(self) -> bool:
        now = time.monotonic()
        if now < self.next_check:
            return False
        self.next_check = now + self.every
        return self.blobs.exists(self.key)


def weights_key(lora_uuid: str, lease: int) -> str:
    return artifact_key(lora_uuid, lease, 0, "safetensors", folder="trainings")


def suite_key(lora_uuid: str, lease: int, index: int) -> str:
    return artifact_key(lora_uuid, lease, index + 1, "png", folder="trainings")


def output_keys(attempt: Attempt, payload: TrainingPayload) -> list[str]:
    weights = weights_key(payload.lora_uuid, attempt.lease)
    return [weights, *(suite_key(payload.lora_uuid, attempt.lease, i) for i in range(len(payload.suite)))]


def run(engine: Engine, blobs: BlobStore, attempt: Attempt, payload: TrainingPayload) -> TaskResult:
    pictures = [_picture(blobs, picture) for picture in payload.pictures]
    spec = TrainingSpec(
        model_key=payload.model_key,
        images=pictures,
        instance_prompt=payload.instance_prompt,
        resolution=payload.resolution,
        steps=payload.steps,
        learning_rate=payload.learning_rate,
        rank=payload.rank,
        batch_size=payload.batch_size,
        gradient_accumulation=payload.gradient_accumulation,
        train_text_encoder=payload.train_text_encoder,
        seed=payload.seed,
        checkpoint_every=payload.checkpoint_every,
    )
    checkpoints = BlobCheckpoints(blobs, checkpoint_key(payload.lora_uuid))
    cancelled = Cancellation(blobs, payload.lora_uuid)
    try:
        result = train(engine, spec, checkpoints, should_stop=cancelled)
    except EngineError:
        if blobs.exists(cancel_key(payload.lora_uuid)):
            blobs.delete(cancel_key(payload.lora_uuid))
            blobs.delete(checkpoints.key)
        raise
    report.stage(report.UPLOADING)
    artifacts = [store_file(blobs, weights_key(payload.lora_uuid, attempt.lease), result.lora)]
    adapter = Adapter(sha256=artifacts[0].sha256, weights=result.lora)
    artifacts += evaluate(engine, blobs, attempt, payload, adapter)
    checkpoints.blobs.delete(checkpoints.key)
    lineage: dict[str, object] = {**result.lineage, "losses": [round(loss, 6) for loss in result.losses]}
    return artifacts, lineage


def evaluate(
    engine: Engine, blobs: BlobStore, attempt: Attempt, payload: TrainingPayload, adapter: Adapter
) -> list[Artifact]:
    """The prompt suite drawn with the LoRA at the suite's fixed seed, one picture per prompt."""
    entry = engine.catalog.resolve(payload.model_key)
    if entry is None:
        raise EngineError(f"unknown model {payload.model_key!r}")
    pictures = []
    for index, template in enumerate(payload.suite):
        prompt = template.replace("{instance}", payload.instance_prompt)
        output = engine.text_to_image(
            TextToImageSpec(
                model_key=entry.key,
                prompt=prompt,
                negative_prompt=None,
                width=payload.resolution,
                height=payload.resolution,
                steps=entry.default_steps,
                guidance_scale=entry.default_guidance,
                seeds=(payload.suite_seed,),
                adapters=(adapter,),
            )
        )
        key = suite_key(payload.lora_uuid, attempt.lease, index)
        pictures.append(store_png(blobs, key, output.images[0], seed=payload.suite_seed, position=index + 1))
    return pictures


def _picture(blobs: BlobStore, picture: DatasetPicture) -> Image.Image:
    try:
        data = blobs.get(picture.blob_key)
    except BlobNotFound:
        raise EngineError("a picture of the dataset is gone (deleted before the training ran)") from None
    if hashlib.sha256(data).hexdigest() != picture.sha256:
        raise EngineError("a picture of the dataset changed after the training was admitted")
    with Image.open(io.BytesIO(data)) as opened:
        return opened.convert("RGB")


KIND: JobKind[TrainingPayload] = JobKind(
    name=NAME,
    payload=TrainingPayload,
    version=1,
    run=run,
    subject=TrainingSubject(),
    lane=TRAINING_LANE,
    models=lambda payload: (payload.model_key,),
    output_keys=output_keys,
    artifacts=(WEIGHTS, IMAGE),
    event=EVENT,
    subject_id=lambda payload: payload.lora_uuid,
)
