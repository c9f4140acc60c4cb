"""What differs between a generation and its replay: the recorded lineage and the pixels.

The parameters are the same by construction (the replay re-ran the original's inputs), so
the report looks at what the machine brought: library versions, device, dtype, weight hash,
scheduler class, and the batch the images were drawn in (a batched original replayed alone
may differ by at most one level per channel). Pixels are compared by the stored PNGs'
SHA-256 per position; where they differ, the largest per-channel difference says by how much.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from sfumato.blobs import BlobNotFound
from sfumato.errors import NotFound
from sfumato.service.context import Context
from sfumato.service.keys import Principal
from sfumato.store import generations as repo
from sfumato.store.models import GeneratedImage

# Facts of one run that say nothing about how its pixels were computed.
CIRCUMSTANCES = frozenset({"seconds", "queued_seconds", "attempts", "worker"})


@dataclass(frozen=True)
class Difference:
    name: str  # the lineage entry, as recorded (``torch_version``, ``device`` …)
    original: Any
    replay: Any


@dataclass(frozen=True)
class ImageComparison:
    position: int
    original_sha256: str | None
    replay_sha256: str | None
    max_level_difference: int | None = None  # 0–255 per channel, when both exist and differ

    @property
    def identical(self) -> bool:
        return self.original_sha256 is not None and self.original_sha256 == self.replay_sha256


@dataclass(frozen=True)
class ReplayReport:
    generation_id: str  # the replay
    replay_of: str  # the original
    status: str  # the replay's: PENDING until it has run
    differences: list[Difference] = field(default_factory=list)
    images: list[ImageComparison] = field(default_factory=list)

    @property
    def identical(self) -> bool | None:
        """Every image's pixels equal (``None`` while the replay has not finished)."""
        if self.status != "COMPLETE":
            return None
        return bool(self.images) and all(image.identical for image in self.images)


def compare_lineage(original: dict[str, Any], replay: dict[str, Any]) -> list[Difference]:
    """Every recorded entry whose value differs, in name order; run circumstances left out."""
    names = sorted((set(original) | set(replay)) - CIRCUMSTANCES)
    return [
        Difference(name, original.get(name), replay.get(name))
        for name in names
        if original.get(name) != replay.get(name)
    ]


def replay_report(ctx: Context, principal: Principal, generation_id: str) -> ReplayReport:
    """The report for replay ``generation_id``; 404 when it is not a replay or the original is gone."""
    with ctx.db.read() as session:
        replay = repo.get_generation(session, generation_id, account_id=principal.account_id)
        if replay is None:
            raise NotFound(f"No generation with id {generation_id!r}")
        if replay.replay_of is None:
            raise NotFound(f"Generation {generation_id} is not a replay", code="not-a-replay")
        original = repo.get_generation(session, replay.replay_of, account_id=principal.account_id)
        if original is None:
            raise NotFound(f"Generation {replay.replay_of}, which {generation_id} replayed, was deleted")
        if replay.status != "COMPLETE":
            return ReplayReport(generation_id=replay.id, replay_of=original.id, status=replay.status)
        differences = compare_lineage(dict(original.lineage or {}), dict(replay.lineage or {}))
        pairs = _pairs(list(original.images), list(replay.images))
    return ReplayReport(
        generation_id=generation_id,
        replay_of=original.id,
        status="COMPLETE",
        differences=differences,
        images=[_compare(ctx, position, *pair) for position, pair in enumerate(pairs)],
    )


def _pairs(
    original: list[GeneratedImage], replay: list[GeneratedImage]
) -> list[tuple[GeneratedImage | None, GeneratedImage | None]]:
    by_position = {image.position: image for image in original}
    replayed = {image.position: image for image in replay}
    positions = sorted(set(by_position) | set(replayed))
    return [(by_position.get(p), replayed.get(p)) for p in positions]


def _compare(
    ctx: Context, position: int, original: GeneratedImage | None, replay: GeneratedImage | None
) -> ImageComparison:
    comparison = ImageComparison(
        position=position,
        original_sha256=original.sha256 if original else None,
        replay_sha256=replay.sha256 if replay else None,
    )
    if original is None or replay is None or comparison.identical:
        return comparison
    try:
        first, second = (_pixels(ctx, image.blob_key) for image in (original, replay))
    except BlobNotFound:
        return comparison
    if first.shape != second.shape:
        return comparison
    level = int(np.abs(first - second).max())
    return ImageComparison(position, comparison.original_sha256, comparison.replay_sha256, level)


def _pixels(ctx: Context, key: str) -> np.ndarray:
    with Image.open(io.BytesIO(ctx.blobs.get(key))) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)
