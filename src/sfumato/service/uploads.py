"""Init images: presigned upload forms, local uploads received, reads and deletes.

The flow is S3's whatever the backend: ``create_upload`` records an init image and returns
a presigned form for its blob key; the client POSTs the file there with no credentials but
the form's signed policy; the image is used later by id. With the local backend sfumato is
the bucket: :func:`receive_upload` checks the policy and the image before storing a byte.
With S3 the bucket receives the file, so every image is checked again when it is read for
use (:func:`read_init_image`) — the one check both backends share. Media uploaded as an
image (:mod:`sfumato.service.media`) is used wherever an init image is, by its id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sfumato.blobs import BlobNotFound, LocalBlobStore
from sfumato.blobs.presign import PolicyViolation, SizeOutOfRange
from sfumato.errors import Forbidden, InvalidRequest, NotFound
from sfumato.service import media, model_assets, upload_safety
from sfumato.service.context import Context
from sfumato.service.images import DecodedImage, decode_image
from sfumato.service.keys import Principal
from sfumato.store import datasets, init_images
from sfumato.store.models import new_id

# Extensions Leonardo documents for init images, and the content type each uploads as.
EXTENSIONS = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}


@dataclass(frozen=True)
class UploadTicket:
    """A new init image and the presigned form that uploads its file."""

    image_id: str
    key: str
    url: str
    fields: dict[str, str]


@dataclass(frozen=True)
class InitImageView:
    id: str
    created_at: datetime
    url: str | None  # None until the file has been uploaded


def create_upload(
    ctx: Context, principal: Principal, extension: str, *, field: str = "extension"
) -> UploadTicket:
    """Record an init image of ``extension`` and presign the upload of its file."""
    return create_uploads(ctx, principal, [(field, extension)])[0]


def create_uploads(
    ctx: Context, principal: Principal, extensions: list[tuple[str, str]]
) -> list[UploadTicket]:
    """One init image per (request field, extension), all or none (a canvas and its mask)."""
    typed = [(normalise_extension(field, extension)) for field, extension in extensions]
    settings = ctx.settings
    tickets = []
    with ctx.db.transaction() as session:
        for extension, content_type in typed:
            image_id = new_id()
            key = f"init-images/{principal.account_id}/{image_id}.{extension}"
            init_images.add(
                session,
                image_id=image_id,
                account_id=principal.account_id,
                blob_key=key,
                content_type=content_type,
            )
            post = ctx.blobs.presign_post(
                key,
                content_type=content_type,
                max_bytes=settings.upload_max_bytes,
                expires_in=settings.upload_url_ttl_seconds,
            )
            tickets.append(UploadTicket(image_id=image_id, key=key, url=post.url, fields=post.fields))
    return tickets


_EXTENSIONS = {"PNG": ("png", "image/png"), "JPEG": ("jpg", "image/jpeg"), "WEBP": ("webp", "image/webp")}


def add_init_image(ctx: Context, principal: Principal, data: bytes, *, what: str) -> str:
    """Keep a picture that came in a request's own body as an init image; its id.

    The bytes pass the checks of an upload (a decodable image within the limits, 400
    otherwise) before anything is stored.
    """
    decoded = decode_image(
        data, max_bytes=ctx.settings.upload_max_bytes, max_pixels=ctx.settings.upload_max_pixels, what=what
    )
    extension, content_type = _EXTENSIONS[decoded.format]
    image_id = new_id()
    key = f"init-images/{principal.account_id}/{image_id}.{extension}"
    ctx.blobs.put(key, data, content_type)
    try:
        with ctx.db.transaction() as session:
            account_id = principal.account_id
            init_images.add(
                session, image_id=image_id, account_id=account_id, blob_key=key, content_type=content_type
            )
    except BaseException:
        ctx.blobs.delete(key)
        raise
    return image_id


def get_init_image(ctx: Context, principal: Principal, image_id: str) -> InitImageView:
    with ctx.db.read() as session:
        image = init_images.get(session, image_id, account_id=principal.account_id)
        if image is None:
            raise NotFound(f"No init image with id {image_id!r}")
        key, created_at = image.blob_key, image.created_at
    url = ctx.blobs.url(key) if ctx.blobs.exists(key) else None
    return InitImageView(id=image_id, created_at=created_at, url=url)


def delete_init_image(ctx: Context, principal: Principal, image_id: str) -> str:
    """Delete the record and its blob; generations made from it keep their own copy and lineage."""
    with ctx.db.transaction() as session:
        image = init_images.get(session, image_id, account_id=principal.account_id)
        if image is None:
            raise NotFound(f"No init image with id {image_id!r}")
        key = image.blob_key
        session.delete(image)
    ctx.blobs.delete(key)
    return image_id


def receive_upload(ctx: Context, fields: Mapping[str, str], data: bytes) -> None:
    """Store a file POSTed to the local backend's upload route, if its form and bytes hold.

    Nothing is stored unless every check passes: the signed policy (403 when forged,
    expired or not met — a key other than the one signed included), the size range and a
    real, decodable image within the pixel limit (400) — or, for a media form, the media's
    own checks (:func:`sfumato.service.media.receive`); a 3D model's file is checked when used.
    """
    store = ctx.blobs
    if not isinstance(store, LocalBlobStore):
        raise NotFound("Uploads go to the bucket, not to this server")
    try:
        policy = store.verify_post(fields, len(data))
    except PolicyViolation as exc:
        raise Forbidden(f"Upload refused: {exc}") from None
    except SizeOutOfRange as exc:
        raise InvalidRequest(f"Upload refused: {exc}", code="entity-too-large") from None
    if media.owns(policy.key):
        media.receive(ctx, policy.key, data)
        return
    if model_assets.owns(policy.key):  # a mesh: parsed with trimesh when a request uses it
        model_assets.receive(ctx, policy.key, policy.content_type, data)
        return
    decode_image(
        data,
        max_bytes=ctx.settings.upload_max_bytes,
        max_pixels=ctx.settings.upload_max_pixels,
        what="the uploaded file",
    )
    with ctx.db.read() as session:
        key = policy.key
        if init_images.by_blob_key(session, key) is None and datasets.image_by_blob_key(session, key) is None:
            raise NotFound("The image of this upload form was deleted; ask for a new one")
    store.put(policy.key, data, policy.content_type)


def read_init_image(
    ctx: Context, principal: Principal, image_id: str, *, what: str, check: bool = True
) -> DecodedImage:
    """An account's uploaded image, fetched and decoded for use; every problem is a 400.

    ``what`` names the request field, so the client learns which of its ids is at fault.
    ``check``: a picture (not a mask), which the safety check sees when the operator asks.
    """
    key = init_image_key(ctx, principal, image_id, what=what)
    limit = ctx.settings.upload_max_bytes
    try:
        if ctx.blobs.size(key) > limit:  # refuse an oversized object before downloading it
            raise InvalidRequest(f"{what}: init image {image_id} is larger than {limit} bytes")
        data = ctx.blobs.get(key)
    except BlobNotFound:
        raise InvalidRequest(
            f"{what}: init image {image_id} has no file yet; POST it to the upload url first"
        ) from None
    decoded = decode_image(
        data, max_bytes=limit, max_pixels=ctx.settings.upload_max_pixels, what=f"{what} {image_id}"
    )
    if check:
        upload_safety.check_picture(ctx, principal.account_id, decoded.image, what)
    return decoded


def init_image_key(ctx: Context, principal: Principal, image_id: str, *, what: str) -> str:
    """The blob key of the account's uploaded image ``image_id``: an init image, or media
    uploaded as an image (``/media``); a 400 naming ``what`` for anything else."""
    with ctx.db.read() as session:
        image = init_images.get(session, image_id, account_id=principal.account_id)
        if image is not None:
            return image.blob_key
    key = media.image_key(ctx, principal, image_id, what=what)
    if key is None:
        raise InvalidRequest(f"{what}: no init image with id {image_id!r}")
    return key


def normalise_extension(field: str, extension: str) -> tuple[str, str]:
    normalised = extension.strip().lower().removeprefix(".")
    if normalised not in EXTENSIONS:
        raise InvalidRequest(
            f"{field}: invalid file extension {extension!r}; use one of png, jpg, jpeg, webp"
        )
    return normalised, EXTENSIONS[normalised]
