"""``/datasets``: pictures to train on, uploaded through presigned forms or copied from generations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.schemas.datasets import (
    CreateDatasetBody,
    UploadDatasetImageBody,
    UploadDatasetImageFromGenBody,
    dataset_object,
    upload_dataset_image,
)
from sfumato.service import datasets

router = APIRouter(tags=["datasets"])


@router.post("/datasets")
def create_dataset(body: CreateDatasetBody, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    dataset_id = datasets.create_dataset(ctx, principal, body.name, body.description)
    return {"insert_datasets_one": {"id": dataset_id}}


@router.post("/datasets/{dataset_id}/upload")
def upload_image(
    dataset_id: str, body: UploadDatasetImageBody, ctx: ContextDep, principal: PrincipalDep
) -> dict[str, Any]:
    return upload_dataset_image(datasets.create_image_upload(ctx, principal, dataset_id, body.extension))


@router.post("/datasets/{dataset_id}/upload/gen")
def upload_image_from_generation(
    dataset_id: str, body: UploadDatasetImageFromGenBody, ctx: ContextDep, principal: PrincipalDep
) -> dict[str, Any]:
    image_id = datasets.add_generated_image(ctx, principal, dataset_id, body.generated_image_id)
    return {"uploadDatasetImageFromGen": {"id": image_id}}


@router.get("/datasets/{dataset_id}")
def get_dataset(dataset_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"datasets_by_pk": dataset_object(datasets.get_dataset(ctx, principal, dataset_id))}


@router.delete("/datasets/{dataset_id}")
def delete_dataset(dataset_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"delete_datasets_by_pk": {"id": datasets.delete_dataset(ctx, principal, dataset_id)}}
