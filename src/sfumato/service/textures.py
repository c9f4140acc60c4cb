"""Texture generations: a model asset's mesh painted into UV maps by a depth ControlNet.

A request names one of the account's model assets; its mesh is parsed and checked here
(``model_assets.mesh_for_use``: a 400 before anything is charged when it is no mesh or too
large), then the texture generation is priced as the calculator quotes it (a preview
costs less), charged and queued in one transaction through the common admission, and
runs on a worker (``jobs/kinds/texture.py``). Its maps are read back by id or by model.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from sfumato.blobs import BlobStore
from sfumato.engine.catalog import TEXTURE_FAMILY
from sfumato.engine.texturing import PREVIEW_DIRECTIONS
from sfumato.errors import InvalidRequest, NotFound
from sfumato.jobs.kinds import texture as texture_kind
from sfumato.service import admission, availability, model_assets
from sfumato.service.context import Context
from sfumato.service.keys import Principal
from sfumato.store import credits, progress, queue
from sfumato.store import model_assets as store
from sfumato.store.clock import utcnow
from sfumato.store.model_asset_tables import TextureGeneration
from sfumato.store.models import Job, new_id

SUBJECT_KIND = "texture_generation"  # the credit ledger's name for what a texture's debit was for
TEXTURES: Table = TextureGeneration.__table__  # type: ignore[assignment]
MAX_SEED = 9_999_999_998  # Leonardo's documented bound for SD models
MAX_ROTATION = 360
LIST_LIMIT = 100


@dataclass(frozen=True)
class TextureRequest:
    """``POST /generations-texture`` in sfumato's words."""

    model_asset_id: str | None
    prompt: str | None
    negative_prompt: str | None = None
    seed: int | None = None
    sd_version: str | None = None
    preview: bool = False
    preview_direction: str | None = None
    front_rotation_offset: int | None = None


@dataclass(frozen=True)
class CreatedTexture:
    texture_id: str
    credit_cost: int


@dataclass(frozen=True)
class TextureMap:
    id: str
    type: str  # ALBEDO, NORMAL
    url: str
    width: int
    height: int
    sha256: str


@dataclass(frozen=True)
class TextureView:
    id: str
    model_asset_id: str
    prompt: str
    negative_prompt: str | None
    seed: int
    preview: bool
    status: str
    failure_reason: str | None
    created_at: datetime
    maps: list[TextureMap]
    uv_mesh_url: str | None  # the mesh with the UVs the maps fit, when xatlas made them
    lineage: dict[str, Any] = field(default_factory=dict)
    standing: progress.Standing | None = None


def create_texture(ctx: Context, principal: Principal, request: TextureRequest) -> CreatedTexture:
    """Validate, price and admit a texture generation."""
    if not request.model_asset_id:
        raise InvalidRequest("modelAssetId is required")
    prompt = (request.prompt or "").strip()
    if not prompt:
        raise InvalidRequest("prompt must not be empty")
    seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
    if not 0 <= seed <= MAX_SEED:
        raise InvalidRequest(f"seed must be between 0 and {MAX_SEED}")
    rotation = request.front_rotation_offset or 0
    if not -MAX_ROTATION <= rotation <= MAX_ROTATION:
        raise InvalidRequest(
            f"front_rotation_offset must be between -{MAX_ROTATION} and {MAX_ROTATION} degrees"
        )
    direction = (request.preview_direction or "front").strip().lower()
    if direction not in PREVIEW_DIRECTIONS:
        raise InvalidRequest(f"preview_direction must be one of {', '.join(PREVIEW_DIRECTIONS)}")
    settings = ctx.settings
    entry = availability.require_named(ctx, settings.texture_model, TEXTURE_FAMILY, "SFUMATO_TEXTURE_MODEL")
    if request.sd_version and entry.sd_version and request.sd_version != entry.sd_version:
        raise InvalidRequest(
            f"sd_version {request.sd_version!r}: textures here are painted by "
            f"{entry.key} ({entry.sd_version})",
            code="unsupported-feature",
        )
    mesh = model_assets.mesh_for_use(ctx, principal, request.model_asset_id, what="modelAssetId")
    cost = ctx.pricing.texture_generation(preview=request.preview)
    texture_id = new_id()
    payload = texture_kind.TexturePayload(
        texture_id=texture_id,
        model_key=entry.key,
        mesh_key=mesh.blob_key,
        mesh_extension=mesh.extension,
        max_faces=settings.model_asset_max_faces,
        max_vertices=settings.model_asset_max_vertices,
        prompt=prompt,
        negative_prompt=request.negative_prompt or "",
        seed=seed,
        steps=entry.default_steps,
        guidance_scale=entry.default_guidance,
        view_size=settings.texture_view_size,
        texture_size=settings.texture_size,
        preview=request.preview,
        preview_direction=direction,
        rotation_degrees=float(rotation),
        api_key_id=principal.api_key_id,
    )
    now = utcnow()
    row: dict[str, Any] = {
        "id": texture_id,
        "account_id": principal.account_id,
        "model_asset_id": mesh.asset_id,
        "prompt": prompt,
        "negative_prompt": request.negative_prompt,
        "seed": seed,
        "preview": request.preview,
        "settings": {
            "model_key": entry.key,
            "preview_direction": direction if request.preview else None,
            "front_rotation_offset": rotation,
            "texture_size": settings.texture_size,
            "view_size": settings.texture_view_size,
            "faces": mesh.faces,
            "vertices": mesh.vertices,
        },
        "status": store.PENDING,
        "failure_reason": None,
        "credit_cost": cost,
        "api_key_id": principal.api_key_id,
        "images": [],
        "lineage": {},
        "created_at": now,
        "updated_at": now,
    }
    job = texture_kind.KIND.job_row(
        payload, account_id=principal.account_id, max_attempts=settings.max_attempts
    )
    submitted = admission.submission(
        ctx,
        principal,
        cost=cost,
        subject_kind=SUBJECT_KIND,
        subject_id=texture_id,
        subject_table=TEXTURES,
        subject=row,
        job=job,
        texts=(prompt, request.negative_prompt),
    )
    accepted = admission.admit(ctx, submitted, "texture generation")
    return CreatedTexture(texture_id=accepted.subject_id, credit_cost=accepted.cost)


def get_texture(ctx: Context, principal: Principal, texture_id: str) -> TextureView:
    with ctx.db.read() as session:
        row = _owned(session, principal, texture_id)
        standing = progress.of_subject(session, row.id) if row.status == store.PENDING else None
        return texture_view(row, ctx.blobs, standing)


def list_textures(
    ctx: Context, principal: Principal, asset_id: str, *, limit: int, offset: int
) -> list[TextureView]:
    """A model asset's texture generations, newest first (404 for another account's asset)."""
    if limit < 1 or offset < 0:
        raise InvalidRequest("limit must be at least 1 and offset at least 0")
    model_assets.get_asset(ctx, principal, asset_id)  # 404 unless the caller's own
    with ctx.db.read() as session:
        rows = store.textures_of(session, asset_id, limit=min(limit, LIST_LIMIT), offset=offset)
        return [texture_view(row, ctx.blobs) for row in rows]


def delete_texture(ctx: Context, principal: Principal, texture_id: str) -> str:
    """Delete the texture generation and its maps; one still queued is cancelled and refunded."""
    with ctx.db.transaction() as session:
        keys = discard(session, _owned(session, principal, texture_id))
    for key in keys:
        ctx.blobs.delete(key)
    return texture_id


def discard(session: Session, row: TextureGeneration) -> list[str]:
    """Delete ``row`` in ``session`` (cancelling and refunding its queued job); its blob keys.

    A job already running finds the row gone when it completes and is refunded then."""
    for job in session.scalars(select(Job).where(Job.subject_id == row.id).with_for_update()):
        if job.state == queue.QUEUED:
            queue.finish(job, state=queue.CANCELLED, error="deleted before it started")
            credits.refund(session, account_id=row.account_id, subject_id=row.id, note="deleted")
    keys = store.texture_blob_keys(row)
    uv_mesh = row.lineage.get("uv_mesh_key")
    session.delete(row)
    return [*keys, *([str(uv_mesh)] if uv_mesh else [])]


def texture_view(
    row: TextureGeneration, blobs: BlobStore, standing: progress.Standing | None = None
) -> TextureView:
    """A texture generation's row as the API (and its webhook events) render it."""
    uv_mesh = row.lineage.get("uv_mesh_key")
    lineage = {name: value for name, value in row.lineage.items() if name != "uv_mesh_key"}
    return TextureView(
        id=row.id,
        model_asset_id=row.model_asset_id,
        prompt=row.prompt,
        negative_prompt=row.negative_prompt,
        seed=row.seed,
        preview=row.preview,
        status=row.status,
        failure_reason=row.failure_reason,
        created_at=row.created_at,
        maps=[
            TextureMap(
                id=str(image["id"]),
                type=str(image["type"]),
                url=blobs.url(str(image["blob_key"])),
                width=int(image["width"]),
                height=int(image["height"]),
                sha256=str(image["sha256"]),
            )
            for image in row.images
        ],
        uv_mesh_url=blobs.url(str(uv_mesh)) if uv_mesh else None,
        lineage=lineage,
        standing=standing,
    )


def _owned(session: Session, principal: Principal, texture_id: str) -> TextureGeneration:
    row = store.texture(session, texture_id, account_id=principal.account_id)
    if row is None:
        raise NotFound(f"No texture generation with id {texture_id!r}")
    return row
