"""Two trained LoRAs side by side: what they were trained from and how their prompt suites differ.

A training renders the prompt suite at fixed seeds when it ends, so two versions trained on
the same dataset (or on a changed one) can be compared picture by picture: the same prompt
and seed on both sides, identical bytes or how far the pixels moved.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from sfumato.errors import NotFound
from sfumato.service.context import Context
from sfumato.store import trained_loras as store
from sfumato.store.training_tables import TrainedLora


@dataclass(frozen=True)
class SuitePair:
    prompt: str
    seed: int | None
    sha256_a: str | None
    sha256_b: str | None
    identical: bool
    max_level_difference: int | None  # the largest per-channel difference, 0-255
    mean_level_difference: float | None


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    same_dataset: bool
    same_base_weights: bool
    setting_differences: dict[str, tuple[Any, Any]]
    losses: tuple[float | None, float | None]  # each training's final loss
    pairs: list[SuitePair]


def compare(ctx: Context, a: str, b: str) -> Comparison:
    """Compare two trainings by id (a custom model's id or an element's number), any account's:
    an operator's view."""
    with ctx.db.read() as session:
        first, second = _row(session, a), _row(session, b)
        rows = [(r.uuid, dict(r.lineage), dict(r.settings), dict(r.evaluation)) for r in (first, second)]
    (uuid_a, lineage_a, settings_a, eval_a), (uuid_b, lineage_b, settings_b, eval_b) = rows
    differences = {
        name: (settings_a.get(name), settings_b.get(name))
        for name in sorted(set(settings_a) | set(settings_b))
        if settings_a.get(name) != settings_b.get(name) and name != "seed"
    }
    images_b = {(image["prompt"], image["seed"]): image for image in eval_b.get("images", [])}
    pairs = [
        _pair(ctx, image, images_b.get((image["prompt"], image["seed"])))
        for image in eval_a.get("images", [])
    ]
    return Comparison(
        a=uuid_a,
        b=uuid_b,
        same_dataset=lineage_a.get("dataset_version") == lineage_b.get("dataset_version"),
        same_base_weights=lineage_a.get("weights_hash") == lineage_b.get("weights_hash"),
        setting_differences=differences,
        losses=(_last(lineage_a), _last(lineage_b)),
        pairs=pairs,
    )


def _row(session: Any, ident: str) -> TrainedLora:
    row = store.by_uuid(session, ident)
    if row is None and ident.isdigit():
        row = session.get(TrainedLora, int(ident))
    if row is None:
        raise NotFound(f"No custom model or element {ident!r}")
    return row


def _last(lineage: dict[str, Any]) -> float | None:
    losses = lineage.get("losses") or []
    return float(losses[-1]) if losses else None


def _pair(ctx: Context, a: dict[str, Any], b: dict[str, Any] | None) -> SuitePair:
    import numpy as np
    from PIL import Image

    if b is None:
        return SuitePair(a["prompt"], a["seed"], a["sha256"], None, False, None, None)
    if a["sha256"] == b["sha256"]:
        return SuitePair(a["prompt"], a["seed"], a["sha256"], b["sha256"], True, 0, 0.0)
    pixels = [np.asarray(Image.open(io.BytesIO(ctx.blobs.get(x["blob_key"]))).convert("RGB"), dtype=np.int16)
              for x in (a, b)]  # fmt: skip
    if pixels[0].shape != pixels[1].shape:
        return SuitePair(a["prompt"], a["seed"], a["sha256"], b["sha256"], False, None, None)
    delta = np.abs(pixels[0] - pixels[1])
    return SuitePair(
        a["prompt"],
        a["seed"],
        a["sha256"],
        b["sha256"],
        False,
        int(delta.max()),
        round(float(delta.mean()), 3),
    )
