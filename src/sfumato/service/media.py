"""Uploaded media (``/media``): images and short videos uploaded for later jobs.

The flow is that of init images (:mod:`sfumato.service.uploads`): ``create_upload``
records the media and presigns the upload of its file, the client POSTs the file there.
What the file is, is checked from its bytes — never from the extension the client chose:
an image is decoded by Pillow within the pixel limit, a video sniffed, demuxed and counted
within the duration, frame and pixel limits (:mod:`sfumato.service.video_files`), and either
must be what its extension says. A refused file is not kept; the media says why in its
``status_reason`` and keeps waiting for an acceptable one while the form is valid.

With the local backend the check runs as the file arrives (:func:`receive`). An S3
bucket receives files unseen, so media whose file has arrived there are checked the first
time they are read (:func:`get_media`) — the same check, and a refused file is deleted
from the bucket.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from PIL import Image
from sqlalchemy.orm import Session

from sfumato.blobs import BlobNotFound
from sfumato.config import Settings
from sfumato.errors import InvalidRequest, NotFound
from sfumato.service import images, video_files
from sfumato.service.context import Context
from sfumato.service.keys import Principal
from sfumato.store import uploaded_media
from sfumato.store.models import UploadedMedia, new_id
from sfumato.store.uploaded_media import AWAITING_UPLOAD, READY, MediaFacts

IMAGE = "image"
VIDEO = "video"
KEY_PREFIX = "media/"
THUMBNAIL_SIZE = 320  # longest side, in pixels


@dataclass(frozen=True)
class Format:
    content_type: str
    media_type: str
    name: str  # Pillow's format name for images, a key of video_files.CONTAINERS for videos


# Extensions accepted, and what the bytes under each must be.
EXTENSIONS = {
    "png": Format("image/png", IMAGE, "PNG"),
    "jpg": Format("image/jpeg", IMAGE, "JPEG"),
    "jpeg": Format("image/jpeg", IMAGE, "JPEG"),
    "webp": Format("image/webp", IMAGE, "WEBP"),
    "mp4": Format("video/mp4", VIDEO, "mp4"),
    "mov": Format("video/quicktime", VIDEO, "mov"),
    "webm": Format("video/webm", VIDEO, "webm"),
}


@dataclass(frozen=True)
class MediaTicket:
    """New media and the presigned form that uploads its file."""

    media_id: str
    key: str
    url: str
    fields: dict[str, str]


@dataclass(frozen=True)
class MediaView:
    id: str
    created_at: datetime
    media_type: str
    status: str
    status_reason: str | None
    url: str | None  # None until an acceptable file has been received
    thumbnail_url: str | None
    width: int | None
    height: int | None
    duration_seconds: float | None
    fps: float | None


def max_bytes(settings: Settings, media_type: str) -> int:
    return settings.media_video_max_bytes if media_type == VIDEO else settings.upload_max_bytes


def largest_upload(settings: Settings) -> int:
    """The largest file any presigned form of this server accepts."""
    return max(settings.upload_max_bytes, settings.media_video_max_bytes, settings.model_asset_max_bytes)


def create_upload(ctx: Context, principal: Principal, extension: str) -> MediaTicket:
    """Record media of ``extension`` and presign the upload of its file."""
    normalised = extension.strip().lower().removeprefix(".")
    format_ = EXTENSIONS.get(normalised)
    if format_ is None:
        raise InvalidRequest(
            f"extension: invalid file extension {extension!r}; use one of {', '.join(EXTENSIONS)}"
        )
    media_id = new_id()
    key = f"{KEY_PREFIX}{principal.account_id}/{media_id}.{normalised}"
    with ctx.db.transaction() as session:
        uploaded_media.add(
            session,
            media_id=media_id,
            account_id=principal.account_id,
            blob_key=key,
            content_type=format_.content_type,
            media_type=format_.media_type,
        )
        post = ctx.blobs.presign_post(
            key,
            content_type=format_.content_type,
            max_bytes=max_bytes(ctx.settings, format_.media_type),
            expires_in=ctx.settings.upload_url_ttl_seconds,
        )
    return MediaTicket(media_id=media_id, key=key, url=post.url, fields=post.fields)


def get_media(ctx: Context, principal: Principal, media_id: str) -> MediaView:
    with ctx.db.read() as session:
        media = _owned(session, principal, media_id)
        session.expunge(media)
    if media.status == AWAITING_UPLOAD and ctx.blobs.exists(media.blob_key):
        media = _settle(ctx, principal, media)
    return _view(ctx, media)


def image_key(ctx: Context, principal: Principal, media_id: str, *, what: str) -> str | None:
    """The blob key of the account's media image ``media_id``, ready for use as an init
    image; None when the account has no such media, a 400 naming ``what`` when it is a
    video or has no acceptable file (one in the bucket is checked first, as a read does)."""
    with ctx.db.read() as session:
        media = uploaded_media.get(session, media_id, account_id=principal.account_id)
        if media is None:
            return None
        session.expunge(media)
    if media.media_type != IMAGE:
        raise InvalidRequest(f"{what}: media {media_id} is a {media.media_type}, not an image")
    if media.status == AWAITING_UPLOAD and ctx.blobs.exists(media.blob_key):
        media = _settle(ctx, principal, media)
    if media.status != READY:
        refused = f"; its last file was refused: {media.status_reason}" if media.status_reason else ""
        raise InvalidRequest(
            f"{what}: media {media_id} has no file yet; POST it to the upload url first{refused}"
        )
    return media.blob_key


def delete_media(ctx: Context, principal: Principal, media_id: str) -> str:
    """Delete the record, its file and its thumbnail; jobs made from it keep their own copy."""
    with ctx.db.transaction() as session:
        media = _owned(session, principal, media_id)
        keys = [media.blob_key, media.thumbnail_key]
        session.delete(media)
    for key in keys:
        if key is not None:
            ctx.blobs.delete(key)
    return media_id


def owns(key: str) -> bool:
    """Whether an upload form's key is a media file's (rather than an init image's)."""
    return key.startswith(KEY_PREFIX)


def receive(ctx: Context, key: str, data: bytes) -> None:
    """Store a file POSTed to the local backend for the media at ``key``, if it is acceptable.

    Nothing is stored unless the file is what its extension says and within the limits.
    """
    with ctx.db.read() as session:
        media = uploaded_media.by_blob_key(session, key)
        if media is None:
            raise NotFound("The media of this upload form was deleted; ask for a new one")
        session.expunge(media)
    facts, thumbnail = _checked(ctx, media, data)
    # Should the record fail after the file is stored, the first read checks the file again.
    ctx.blobs.put(key, data, media.content_type)
    _accept(ctx, media, facts, thumbnail)


def _settle(ctx: Context, principal: Principal, media: UploadedMedia) -> UploadedMedia:
    """Check a file that arrived in the bucket unseen: record it ready, or delete it."""
    try:
        size, limit = ctx.blobs.size(media.blob_key), max_bytes(ctx.settings, media.media_type)
        if size > limit:  # refused before it is downloaded
            _refuse_early(ctx, media, f"the uploaded file is {size} bytes; at most {limit} are allowed")
        facts, thumbnail = _checked(ctx, media, ctx.blobs.get(media.blob_key))
    except BlobNotFound:
        return media  # deleted meanwhile: still waiting
    except InvalidRequest:
        ctx.blobs.delete(media.blob_key)
    else:
        _accept(ctx, media, facts, thumbnail)
    with ctx.db.read() as session:
        current = _owned(session, principal, media.id)
        session.expunge(current)
    return current


def _accept(ctx: Context, media: UploadedMedia, facts: MediaFacts, thumbnail: bytes) -> None:
    """Store the thumbnail of a stored, acceptable file and record the media ready — or, if
    the media was deleted meanwhile, remove both files again."""
    ctx.blobs.put(facts.thumbnail_key, thumbnail, "image/jpeg")
    with ctx.db.transaction() as session:
        recorded = uploaded_media.record_ready(session, media.id, facts) is not None
    if not recorded:
        ctx.blobs.delete(media.blob_key)
        ctx.blobs.delete(facts.thumbnail_key)


def _refuse_early(ctx: Context, media: UploadedMedia, reason: str) -> None:
    with ctx.db.transaction() as session:
        uploaded_media.record_refusal(session, media.id, reason)
    raise InvalidRequest(f"Upload refused: {reason}")


def _checked(ctx: Context, media: UploadedMedia, data: bytes) -> tuple[MediaFacts, bytes]:
    """The facts and thumbnail of an acceptable file; for any other, the refusal is
    recorded on the media and raised as :class:`InvalidRequest`."""
    stem, extension = media.blob_key.rsplit(".", 1)
    format_ = EXTENSIONS[extension]
    what = f"the uploaded file (.{extension})"
    check = _image if format_.media_type == IMAGE else _video
    try:
        facts, picture = check(ctx.settings, format_, data, what, f"{stem}-thumbnail.jpg")
    except InvalidRequest as exc:
        with ctx.db.transaction() as session:
            uploaded_media.record_refusal(session, media.id, exc.message)
        raise InvalidRequest(f"Upload refused: {exc.message}") from None
    return facts, _thumbnail(picture)


def _image(
    settings: Settings, format_: Format, data: bytes, what: str, thumbnail_key: str
) -> tuple[MediaFacts, Image.Image]:
    if images.sniff(data) not in (None, format_.name):
        label = "WebP" if format_.name == "WEBP" else format_.name
        raise InvalidRequest(f"{what} is not a {label} image")
    decoded = images.decode_image(
        data, max_bytes=settings.upload_max_bytes, max_pixels=settings.upload_max_pixels, what=what
    )
    picture = images.flatten(decoded.image)
    facts = MediaFacts(
        width=picture.width,
        height=picture.height,
        size_bytes=decoded.size_bytes,
        sha256=decoded.sha256,
        codec=decoded.format.lower(),
        thumbnail_key=thumbnail_key,
    )
    return facts, picture


def _video(
    settings: Settings, format_: Format, data: bytes, what: str, thumbnail_key: str
) -> tuple[MediaFacts, Image.Image]:
    limits = video_files.VideoLimits(
        max_bytes=settings.media_video_max_bytes,
        max_seconds=settings.media_video_max_seconds,
        max_frames=settings.media_video_max_frames,
        max_pixels=settings.media_video_max_pixels,
    )
    video = video_files.probe_video(data, format_.name, limits, what=what)
    facts = MediaFacts(
        width=video.width,
        height=video.height,
        size_bytes=video.size_bytes,
        sha256=video.sha256,
        codec=video.codec,
        thumbnail_key=thumbnail_key,
        duration_seconds=video.duration_seconds,
        fps=video.fps,
        frame_count=video.frame_count,
    )
    return facts, video.first_frame


def _thumbnail(picture: Image.Image) -> bytes:
    small = picture.copy()
    small.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _owned(session: Session, principal: Principal, media_id: str) -> UploadedMedia:
    media = uploaded_media.get(session, media_id, account_id=principal.account_id)
    if media is None:
        raise NotFound(f"No media with id {media_id!r}")
    return media


def _view(ctx: Context, media: UploadedMedia) -> MediaView:
    ready = media.status == READY
    return MediaView(
        id=media.id,
        created_at=media.created_at,
        media_type=media.media_type,
        status=media.status,
        status_reason=media.status_reason,
        url=ctx.blobs.url(media.blob_key) if ready else None,
        thumbnail_url=ctx.blobs.url(media.thumbnail_key) if ready and media.thumbnail_key else None,
        width=media.width,
        height=media.height,
        duration_seconds=media.duration_seconds,
        fps=media.fps,
    )
