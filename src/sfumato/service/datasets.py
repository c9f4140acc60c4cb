"""Datasets: named sets of pictures to train on, filled through presigned uploads or from generations.

An upload works as an init image's does (``service.uploads``): a row names the blob key, a
presigned form lets the client POST the file there, and the local backend checks the form
and the picture before storing a byte. Every picture is checked again (decoded within the
pixel and byte limits) when a training reads it, the one check both backends share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from PIL import Image
from sqlalchemy.orm import Session

from sfumato.blobs import BlobNotFound
from sfumato.errors import InvalidRequest, NotFound
from sfumato.service import upload_safety
from sfumato.service.context import Context
from sfumato.service.images import decode_image, flatten
from sfumato.service.keys import Principal
from sfumato.service.uploads import UploadTicket, normalise_extension
from sfumato.store import datasets as store
from sfumato.store.clock import utcnow
from sfumato.store.models import GeneratedImage, new_id
from sfumato.store.training_tables import Dataset, DatasetImage

LIMIT_EXCEEDED = "limit-exceeded"


@dataclass(frozen=True)
class DatasetImageView:
    id: str
    created_at: datetime
    url: str | None  # None until its file is uploaded


@dataclass(frozen=True)
class DatasetView:
    id: str
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    images: list[DatasetImageView]


@dataclass(frozen=True)
class TrainingImage:
    """One picture ready to train on, with the content hash that versions the dataset."""

    image: Image.Image
    sha256: str
    blob_key: str


def create_dataset(ctx: Context, principal: Principal, name: str, description: str | None) -> str:
    name = name.strip()
    if not name:
        raise InvalidRequest("name: a dataset needs a name")
    with ctx.db.transaction() as session:
        dataset = Dataset(id=new_id(), account_id=principal.account_id, name=name, description=description)
        session.add(dataset)
        return dataset.id


def create_image_upload(ctx: Context, principal: Principal, dataset_id: str, extension: str) -> UploadTicket:
    """Record a dataset image of ``extension`` and presign the upload of its file."""
    extension, content_type = normalise_extension("extension", extension)
    settings = ctx.settings
    with ctx.db.transaction() as session:
        dataset = _owned(session, principal, dataset_id)
        _check_room(ctx, session, dataset.id)
        image_id = new_id()
        key = f"datasets/{principal.account_id}/{dataset.id}/{image_id}.{extension}"
        session.add(
            DatasetImage(
                id=image_id,
                dataset_id=dataset.id,
                account_id=principal.account_id,
                blob_key=key,
                content_type=content_type,
            )
        )
        dataset.updated_at = utcnow()
        post = ctx.blobs.presign_post(
            key,
            content_type=content_type,
            max_bytes=settings.upload_max_bytes,
            expires_in=settings.upload_url_ttl_seconds,
        )
    return UploadTicket(image_id=image_id, key=key, url=post.url, fields=post.fields)


def add_generated_image(ctx: Context, principal: Principal, dataset_id: str, generated_image_id: str) -> str:
    """Copy one of the account's generated images into the dataset (a copy: deleting the
    generation later leaves the dataset whole)."""
    with ctx.db.read() as session:
        _owned(session, principal, dataset_id)
        image = session.get(GeneratedImage, generated_image_id)
        if image is None or image.generation.account_id != principal.account_id:
            raise NotFound(f"No generated image with id {generated_image_id!r}")
        source_key, content_type = image.blob_key, image.content_type
    try:
        data = ctx.blobs.get(source_key)
    except BlobNotFound:
        raise NotFound(f"Generated image {generated_image_id} has no file") from None
    image_id = new_id()
    key = f"datasets/{principal.account_id}/{dataset_id}/{image_id}.png"
    ctx.blobs.put(key, data, content_type)
    try:
        with ctx.db.transaction() as session:
            dataset = _owned(session, principal, dataset_id)
            _check_room(ctx, session, dataset.id)
            session.add(
                DatasetImage(
                    id=image_id,
                    dataset_id=dataset.id,
                    account_id=principal.account_id,
                    blob_key=key,
                    content_type=content_type,
                    generated_image_id=generated_image_id,
                )
            )
            dataset.updated_at = utcnow()
    except Exception:
        ctx.blobs.delete(key)
        raise
    return image_id


def get_dataset(ctx: Context, principal: Principal, dataset_id: str) -> DatasetView:
    with ctx.db.read() as session:
        dataset = _owned(session, principal, dataset_id)
        rows = [(row.id, row.created_at, row.blob_key) for row in store.images(session, dataset.id)]
        view = DatasetView(
            id=dataset.id,
            name=dataset.name,
            description=dataset.description,
            created_at=dataset.created_at,
            updated_at=dataset.updated_at,
            images=[],
        )
    images = [
        DatasetImageView(id=image_id, created_at=created, url=_url(ctx, key))
        for image_id, created, key in rows
    ]
    return DatasetView(**{**vars(view), "images": images})


def delete_dataset(ctx: Context, principal: Principal, dataset_id: str) -> str:
    """Delete the dataset and its pictures; models trained on it keep their weights and lineage."""
    with ctx.db.transaction() as session:
        dataset = _owned(session, principal, dataset_id)
        keys = [row.blob_key for row in store.images(session, dataset.id)]
        session.delete(dataset)
    for key in keys:
        ctx.blobs.delete(key)
    return dataset_id


def training_images(
    ctx: Context, principal: Principal, dataset_id: str, *, field: str
) -> list[TrainingImage]:
    """The dataset's uploaded pictures, decoded within the limits; a 400 naming ``field`` when
    the dataset is another account's, empty, or holds a picture that is not one."""
    with ctx.db.read() as session:
        dataset = store.get(session, dataset_id, account_id=principal.account_id)
        if dataset is None:
            raise NotFound(f"No dataset with id {dataset_id!r}")
        keys = [row.blob_key for row in store.images(session, dataset.id)]
    settings = ctx.settings
    images = []
    for key in keys:
        try:
            if ctx.blobs.size(key) > settings.upload_max_bytes:
                raise InvalidRequest(f"{field}: a picture of dataset {dataset_id} is larger than the limit")
            data = ctx.blobs.get(key)
        except BlobNotFound:
            continue  # a form asked for but never used: not part of the dataset
        decoded = decode_image(
            data,
            max_bytes=settings.upload_max_bytes,
            max_pixels=settings.upload_max_pixels,
            what=f"{field}: a picture of dataset {dataset_id}",
        )
        upload_safety.check_picture(ctx, principal.account_id, decoded.image, f"{field}: a dataset picture")
        images.append(TrainingImage(image=flatten(decoded.image), sha256=decoded.sha256, blob_key=key))
    if not images:
        raise InvalidRequest(f"{field}: dataset {dataset_id} has no uploaded pictures to train on")
    return images


def _url(ctx: Context, key: str) -> str | None:
    return ctx.blobs.url(key) if ctx.blobs.exists(key) else None


def _owned(session: Session, principal: Principal, dataset_id: str) -> Dataset:
    dataset = store.get(session, dataset_id, account_id=principal.account_id)
    if dataset is None:
        raise NotFound(f"No dataset with id {dataset_id!r}")
    return dataset


def _check_room(ctx: Context, session: Session, dataset_id: str) -> None:
    limit = ctx.settings.dataset_max_images
    if store.image_count(session, dataset_id) >= limit:
        raise InvalidRequest(f"A dataset holds at most {limit} images", code=LIMIT_EXCEEDED)
