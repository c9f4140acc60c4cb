"""The output safety check, run by the worker on every picture a batch produced.

After a batch runs, each job's pictures (images; for a video, :data:`VIDEO_SAMPLES` frames
spread over the clip, its first included) are read back from the blobs and classified in one
call of the safety classifier (``engine.safety``); an output whose unsafe score (a video's:
its worst frame's) exceeds the threshold is flagged, and handled per its account's mode
(``store.policies``):

* ``flag`` (the default): kept and served, with ``nsfw: true``;
* ``blur``: a blurred picture of the same size replaces it under the same key (the original
  is kept beside it, never served, only when the operator sets SFUMATO_SAFETY_KEEP_ORIGINALS);
  a video, which cannot be blurred here, is withheld;
* ``withhold``: deleted and not recorded; the generation says so, and the credits of the
  withheld outputs are refunded (``store.credits.refund_share``). A job whose every output
  is withheld fails, fully refunded, with the reason.

Every kind gets this without declaring anything: it happens between the run and the record.
The lineage records the classifier, the threshold and each output's score.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from sfumato.blobs import BlobStore
from sfumato.engine.errors import EngineError
from sfumato.engine.safety import Verdict, blurred, classify
from sfumato.jobs.artifacts import VIDEO, Artifact
from sfumato.jobs.writers.png import store_png
from sfumato.jobs.writers.upload import upload
from sfumato.observability.metrics import record_flag
from sfumato.store import Database, credits, policies
from sfumato.store.models import Generation, Job

if TYPE_CHECKING:
    from sfumato.config import Settings
    from sfumato.engine import Engine
    from sfumato.store.queue import ClaimedJob

log = logging.getLogger(__name__)
LINEAGE = "safety"
VIDEO_SAMPLES = 4  # frames of a clip classified, evenly spread from the first to the last
_WARNED: set[str] = set()  # classifiers found missing, warned of once per process


@dataclass(frozen=True)
class Screening:
    model: str  # catalog key of the classifier (family safety)
    threshold: float  # flagged when the unsafe score exceeds it: 0 flags all, 1 none
    keep_originals: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Screening | None:
        if not settings.safety_model:
            return None
        return cls(settings.safety_model, settings.safety_threshold, settings.safety_keep_originals)

    def ready(self, engine: Engine) -> bool:
        """Whether the classifier's weights are on this machine (tiny ones build on demand)."""
        entry = engine.catalog.resolve(self.model)
        return entry is not None and (entry.always_ready or engine.catalog.is_ready(entry, engine.models_dir))

    def screen(
        self, engine: Engine, blobs: BlobStore, db: Database, jobs: Sequence[ClaimedJob], results: list[Any]
    ) -> list[Any]:
        """``results`` (one per job; a ``TaskResult`` or anything else, left alone) with every
        picture classified and handled per its account's mode."""
        pictures = [
            (index, position, artifact)
            for index, result in enumerate(results)
            if _is_result(result)
            for position, artifact in enumerate(result[0])
            if _picture_key(artifact) is not None
        ]
        if not pictures:
            return results
        if not self.ready(engine):
            if self.model not in _WARNED:
                _WARNED.add(self.model)
                log.warning("safety model %s has no weights here: outputs are not checked; "
                            "`sfumato models pull %s` fetches them", self.model, self.model)  # fmt: skip
            return results
        try:
            samples = [_samples(blobs, artifact) for _, _, artifact in pictures]
            scored = iter(classify(engine, self.model, [image for images in samples for image in images]))
            # An output is as unsafe as its worst picture (a clip's worst sampled frame).
            verdicts = [max((next(scored) for _ in images), key=lambda v: v.score) for images in samples]
        except Exception as exc:  # fail closed: an unchecked output is not recorded
            log.error("the output safety check failed", exc_info=True)
            failure = EngineError(f"the output safety check failed: {exc}")
            return [failure if _is_result(result) else result for result in results]
        with db.read() as session:
            modes = {
                account: policies.mode_of(row)
                for account, row in policies.policies_of(session, {job.account_id for job in jobs}).items()
            }
        checked: dict[int, list[tuple[int, Artifact, Verdict, int]]] = {}
        for (index, position, artifact), verdict, images in zip(pictures, verdicts, samples, strict=True):
            checked.setdefault(index, []).append((position, artifact, verdict, len(images)))
        screened = list(results)
        for index, entries in checked.items():
            mode = modes.get(jobs[index].account_id, policies.FLAG)
            screened[index] = self._handle(blobs, results[index], entries, mode)
        return screened

    def screen_png(
        self, engine: Engine, db: Database, account_id: str, png: bytes, lineage: dict[str, object]
    ) -> tuple[bytes, dict[str, object]]:
        """One picture held in memory (a realtime answer handed straight to its waiter): the
        same check and modes, before it leaves; a withheld one raises :class:`EngineError`."""
        if not self.ready(engine):
            return png, lineage
        with _open(png) as opened:
            picture = opened.copy()
        [verdict] = classify(engine, self.model, [picture])
        with db.read() as session:
            mode = policies.mode_of(policies.policy_of(session, account_id))
        flagged = verdict.score > self.threshold
        record = {
            "model": self.model,
            "threshold": self.threshold,
            "mode": mode,
            "scores": [round(verdict.score, 4)],
            "flagged": [0] if flagged else [],
            "categories": [verdict.category] if flagged else [],
            "withheld": [],
            "outputs": 1,
        }
        if not flagged:
            return png, {**lineage, LINEAGE: record}
        record_flag(verdict.category, mode)
        if mode == policies.WITHHOLD:
            raise EngineError(withheld_reason(1, 1, [verdict.category]))
        if mode == policies.BLUR:
            buffer = io.BytesIO()
            blurred(picture).save(buffer, format="PNG")
            png = buffer.getvalue()
        return png, {**lineage, LINEAGE: record}

    def _handle(
        self,
        blobs: BlobStore,
        result: tuple[list[Artifact], dict[str, object]],
        entries: list[tuple[int, Artifact, Verdict, int]],
        mode: str,
    ) -> Any:
        artifacts: list[Artifact | None] = list(result[0])
        lineage = dict(result[1])
        flagged: list[int] = []
        withheld: list[int] = []
        categories: list[str] = []
        for position, artifact, verdict, _pictures in entries:
            if verdict.score <= self.threshold:
                continue
            flagged.append(artifact.position)
            categories.append(verdict.category)
            action = mode if not (mode == policies.BLUR and artifact.type == VIDEO) else policies.WITHHOLD
            record_flag(verdict.category, action)
            if action == policies.WITHHOLD:
                _delete(blobs, artifact.blob_keys)
                withheld.append(artifact.position)
                artifacts[position] = None
            elif action == policies.BLUR:
                artifacts[position] = self._blur(blobs, artifact)
            else:
                artifacts[position] = replace(artifact, nsfw=True)
        lineage[LINEAGE] = {
            "model": self.model,
            "threshold": self.threshold,
            "mode": mode,
            "scores": [round(verdict.score, 4) for _, _, verdict, _ in entries],
            "pictures": [pictures for _, _, _, pictures in entries],  # classified per output
            "flagged": flagged,
            "categories": list(dict.fromkeys(categories)),
            "withheld": withheld,
            "outputs": len(entries),
        }
        kept = [artifact for artifact in artifacts if artifact is not None]
        if withheld and not kept:
            return EngineError(withheld_reason(len(withheld), len(entries), categories))
        return kept, lineage

    def _blur(self, blobs: BlobStore, artifact: Artifact) -> Artifact:
        key = artifact.blob_key
        original = blobs.get(key)
        if self.keep_originals:
            upload(blobs, original_key(key), original, artifact.content_type)
        with _open(original) as image:
            stored = store_png(blobs, key, blurred(image), position=artifact.position, seed=artifact.seed)
        return replace(stored, nsfw=True)


def withheld_reason(withheld: int, outputs: int, categories: Sequence[str]) -> str:
    """What the job's subject says of its withheld outputs."""
    named = ", ".join(dict.fromkeys(categories)) or "unsafe"
    return (
        f"{withheld} of {outputs} output(s) {policies.WITHHELD}: the safety check "
        f"classified them as {named}; their credits were refunded"
    )


def settle(session: Session, job: Job, lineage: dict[str, object]) -> None:
    """After a job's end is recorded: refund the share of its withheld outputs, and say so on
    its generation. Runs in the transaction that records the end."""
    checked = lineage.get(LINEAGE)
    if not isinstance(checked, dict) or not checked.get("withheld"):
        return
    withheld, outputs = len(checked["withheld"]), int(checked["outputs"])
    reason = withheld_reason(withheld, outputs, [str(c) for c in checked.get("categories", [])])
    subject_id = job.generation_id or job.subject_id
    if subject_id is not None:
        credits.refund_share(
            session, account_id=job.account_id, subject_id=subject_id, parts=withheld, of=outputs, note=reason
        )
    generation = session.get(Generation, job.generation_id) if job.generation_id else None
    if generation is not None:
        generation.failure_reason = reason


def original_key(key: str) -> str:
    """Where a blurred output's original is kept, when the operator keeps them: beside it."""
    stem = key.rsplit(".", 1)[0] if "." in key.rsplit("/", 1)[-1] else key
    return f"{stem}.original.png"


def _is_result(result: object) -> bool:
    return isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], list)


def _picture_key(artifact: Artifact) -> str | None:
    """The blob of the picture that shows the output (a video's poster), if it has one."""
    try:
        return artifact.picture().blob_key
    except EngineError:
        return None


def _samples(blobs: BlobStore, artifact: Artifact) -> list[Any]:
    """The pictures an output is judged by: an image itself; a clip's frames at
    :data:`VIDEO_SAMPLES` evenly spread positions (its poster when it cannot be read)."""
    if artifact.type != VIDEO or not artifact.frame_count:
        return [_read(blobs, _picture_key(artifact) or "")]
    import av

    count = artifact.frame_count
    wanted = sorted({round(i * (count - 1) / max(VIDEO_SAMPLES - 1, 1)) for i in range(VIDEO_SAMPLES)})
    frames: list[Any] = []
    with av.open(io.BytesIO(blobs.get(artifact.blob_key)), mode="r") as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                frames.append(frame.to_image().convert("RGB"))
            if index >= wanted[-1]:
                break
    return frames or [_read(blobs, _picture_key(artifact) or "")]


def _open(data: bytes) -> Any:
    from PIL import Image

    return Image.open(io.BytesIO(data))


def _read(blobs: BlobStore, key: str) -> Any:
    with _open(blobs.get(key)) as image:
        return image.convert("RGB")


def _delete(blobs: BlobStore, keys: list[str]) -> None:
    for key in keys:
        try:
            blobs.delete(key)
        except Exception:
            log.warning("could not delete withheld blob %s", key, exc_info=True)
