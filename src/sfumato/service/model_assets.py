"""3D model assets: meshes uploaded through presigned forms, read, listed and deleted.

The flow is that of init images (:mod:`sfumato.service.uploads`): ``create_upload`` records
the asset and presigns the upload of its file; the client POSTs the file there. A mesh is
parsed and checked with trimesh when a request uses it (:func:`mesh_for_use`) — the one
check both blob backends share, since a bucket receives files unseen — so a file that is
no mesh, or exceeds the face and vertex limits, is refused with a 400 before anything is
charged. The local backend only checks the form's policy and the size as the file arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from sfumato.blobs import BlobNotFound
from sfumato.engine import meshes
from sfumato.errors import InvalidRequest, NotFound
from sfumato.service.context import Context
from sfumato.service.keys import Principal
from sfumato.store import model_assets as store
from sfumato.store.clock import utcnow
from sfumato.store.model_asset_tables import ModelAsset
from sfumato.store.models import new_id

KEY_PREFIX = "models-3d/"
# Extensions accepted, and the content type each uploads as.
EXTENSIONS = {"obj": "model/obj", "glb": "model/gltf-binary", "gltf": "model/gltf+json"}
LIST_LIMIT = 100


@dataclass(frozen=True)
class ModelUploadTicket:
    """A new model asset and the presigned form that uploads its file."""

    model_id: str
    key: str
    url: str
    fields: dict[str, str]


@dataclass(frozen=True)
class ModelAssetView:
    id: str
    name: str
    user_id: str
    created_at: datetime
    updated_at: datetime
    mesh_url: str | None  # None until the file has been uploaded


@dataclass(frozen=True)
class MeshForUse:
    """A model asset whose file parsed within the limits: what a texture job reads."""

    asset_id: str
    blob_key: str
    extension: str
    faces: int
    vertices: int


def owns(key: str) -> bool:
    """Whether an upload form's key is a model asset's."""
    return key.startswith(KEY_PREFIX)


def create_upload(
    ctx: Context, principal: Principal, extension: str | None, name: str | None
) -> ModelUploadTicket:
    """Record a model asset of ``extension`` and presign the upload of its file."""
    normalised = (extension or "").strip().lower().removeprefix(".")
    if normalised not in EXTENSIONS:
        raise InvalidRequest(
            f"modelExtension: invalid file extension {extension!r}; use one of {', '.join(EXTENSIONS)}"
        )
    title = (name or "").strip() or f"model.{normalised}"
    if len(title) > 200:
        raise InvalidRequest("name: at most 200 characters")
    asset_id = new_id()
    key = f"{KEY_PREFIX}{principal.account_id}/{asset_id}.{normalised}"
    now = utcnow()
    with ctx.db.transaction() as session:
        session.add(
            ModelAsset(
                id=asset_id,
                account_id=principal.account_id,
                name=title,
                extension=normalised,
                blob_key=key,
                content_type=EXTENSIONS[normalised],
                created_at=now,
                updated_at=now,
            )
        )
        post = ctx.blobs.presign_post(
            key,
            content_type=EXTENSIONS[normalised],
            max_bytes=ctx.settings.model_asset_max_bytes,
            expires_in=ctx.settings.upload_url_ttl_seconds,
        )
    return ModelUploadTicket(model_id=asset_id, key=key, url=post.url, fields=post.fields)


def receive(ctx: Context, key: str, content_type: str, data: bytes) -> None:
    """Keep a mesh file POSTed to the local backend (its form's policy already checked)."""
    with ctx.db.read() as session:
        if store.by_blob_key(session, key) is None:
            raise NotFound("The model asset of this upload form was deleted; ask for a new one")
    ctx.blobs.put(key, data, content_type)


def get_asset(ctx: Context, principal: Principal, asset_id: str) -> ModelAssetView:
    with ctx.db.read() as session:
        return _view(ctx, _owned(session, principal, asset_id))


def list_assets(
    ctx: Context, principal: Principal, user_id: str, *, limit: int, offset: int
) -> list[ModelAssetView]:
    """The caller's own model assets, newest first; another account's id lists nothing."""
    if user_id != principal.account_id:
        return []
    if limit < 1 or offset < 0:
        raise InvalidRequest("limit must be at least 1 and offset at least 0")
    with ctx.db.read() as session:
        rows = store.of_account(session, principal.account_id, limit=min(limit, LIST_LIMIT), offset=offset)
        return [_view(ctx, row) for row in rows]


def delete_asset(ctx: Context, principal: Principal, asset_id: str) -> str:
    """Delete the asset, its file and its texture generations' maps (a texture still queued
    is cancelled and refunded; one running finds its row gone and is refunded)."""
    from sfumato.service import textures

    with ctx.db.transaction() as session:
        asset = _owned(session, principal, asset_id)
        keys = [asset.blob_key]
        for row in store.textures_of(session, asset.id):
            keys += textures.discard(session, row)
        session.flush()  # the textures' rows first: the asset's own delete would cascade to them
        session.delete(asset)
    for key in keys:
        ctx.blobs.delete(key)
    return asset_id


def mesh_for_use(ctx: Context, principal: Principal, asset_id: str, *, what: str) -> MeshForUse:
    """The account's model asset, its file fetched and parsed within the limits; a 404 when
    the account has no such asset, a 400 naming ``what`` for every problem with its file."""
    with ctx.db.read() as session:
        asset = _owned(session, principal, asset_id)
        key, extension = asset.blob_key, asset.extension
    settings = ctx.settings
    try:
        if ctx.blobs.size(key) > settings.model_asset_max_bytes:
            raise InvalidRequest(
                f"{what}: model {asset_id} is larger than {settings.model_asset_max_bytes} bytes"
            )
        data = ctx.blobs.get(key)
    except BlobNotFound:
        raise InvalidRequest(
            f"{what}: model {asset_id} has no file yet; POST it to the upload url first"
        ) from None
    limits = meshes.MeshLimits(
        max_faces=settings.model_asset_max_faces, max_vertices=settings.model_asset_max_vertices
    )
    try:
        parsed = meshes.parse(data, extension, limits)
    except meshes.MeshError as exc:
        raise InvalidRequest(f"{what}: model {asset_id}: {exc}", code="invalid-mesh") from None
    return MeshForUse(
        asset_id=asset_id,
        blob_key=key,
        extension=extension,
        faces=len(parsed.faces),
        vertices=len(parsed.vertices),
    )


def _owned(session: Session, principal: Principal, asset_id: str) -> ModelAsset:
    asset = store.get(session, asset_id, account_id=principal.account_id)
    if asset is None:
        raise NotFound(f"No 3D model with id {asset_id!r}")
    return asset


def _view(ctx: Context, asset: ModelAsset) -> ModelAssetView:
    url = ctx.blobs.url(asset.blob_key) if ctx.blobs.exists(asset.blob_key) else None
    return ModelAssetView(
        id=asset.id,
        name=asset.name,
        user_id=asset.account_id,
        created_at=asset.created_at,
        updated_at=asset.updated_at,
        mesh_url=url,
    )
