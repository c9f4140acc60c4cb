"""Variations: the rows of jobs run on existing images, and their end."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from sfumato.store.clock import utcnow
from sfumato.store.models import GeneratedImage, Variation

PENDING, COMPLETE, FAILED = "PENDING", "COMPLETE", "FAILED"


def blob_key(variation_id: str, lease: int, extension: str = "png") -> str:
    """Where the attempt under lease number ``lease`` puts a variation's picture (each its own),
    or a motion variation's clip (``mp4``)."""
    return f"variations/{variation_id}/lease-{lease}.{extension}"


def get(session: Session, variation_id: str, *, account_id: str | None = None) -> Variation | None:
    """The variation, if it exists and (with ``account_id``) belongs to that account."""
    variation = session.get(Variation, variation_id)
    if variation is None or (account_id is not None and variation.account_id != account_id):
        return None
    return variation


def for_images(session: Session, image_ids: Iterable[str]) -> dict[str, list[Variation]]:
    """Each generated image's variations, oldest first."""
    ids = list(image_ids)
    if not ids:
        return {}
    rows = session.scalars(
        select(Variation)
        .where(Variation.generated_image_id.in_(ids))
        .order_by(Variation.created_at, Variation.id)
    )
    grouped: dict[str, list[Variation]] = defaultdict(list)
    for variation in rows:
        assert variation.generated_image_id is not None
        grouped[variation.generated_image_id].append(variation)
    return dict(grouped)


def blob_keys_of_generation(session: Session, generation_id: str) -> list[str]:
    """The pictures of every variation made from a generation's images (to delete with it)."""
    rows = session.scalars(
        select(Variation.blob_key)
        .join(GeneratedImage, GeneratedImage.id == Variation.generated_image_id)
        .where(GeneratedImage.generation_id == generation_id, Variation.blob_key.is_not(None))
    )
    return [key for key in rows if key]


def complete(
    variation: Variation,
    *,
    key: str,
    content_type: str,
    width: int,
    height: int,
    sha256: str,
    size_bytes: int | None = None,
    lineage: dict[str, object],
) -> None:
    variation.status = COMPLETE
    variation.blob_key = key
    variation.content_type = content_type
    variation.width = width
    variation.height = height
    variation.sha256 = sha256
    variation.size_bytes = size_bytes
    variation.lineage = dict(lineage)
    variation.updated_at = utcnow()


def fail(variation: Variation, reason: str) -> None:
    variation.status = FAILED
    variation.failure_reason = reason
    variation.updated_at = utcnow()
