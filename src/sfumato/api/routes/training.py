"""``/models`` (custom models) and ``/elements``: LoRAs trained on a dataset, read, listed, deleted."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.schemas.training import (
    CreateElementBody,
    CreateModelBody,
    custom_model_object,
    element_object,
    listed_element,
    platform_element,
    training_job,
)
from sfumato.service import platform_elements, training
from sfumato.store.training_tables import ELEMENT, MODEL

router = APIRouter(tags=["training"])


@router.post("/models")
async def create_model(body: CreateModelBody, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    created = await run_in_threadpool(training.create_training, ctx, principal, body.to_request())
    return training_job(created, "customModelId")


@router.get("/models/user/{user_id}")
def custom_models(user_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    views = training.list_trainings(ctx, principal, MODEL, user_id)
    return {"custom_models": [custom_model_object(view) for view in views]}


@router.get("/models/{model_id}")
def get_model(model_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return {
        "custom_models_by_pk": custom_model_object(
            training.get_training(ctx, principal, MODEL, uuid=model_id)
        )
    }


@router.delete("/models/{model_id}")
def delete_model(model_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    row = training.delete_training(ctx, principal, MODEL, uuid=model_id)
    return {"delete_custom_models_by_pk": {"id": row.uuid}}


@router.post("/elements")
async def create_element(body: CreateElementBody, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    created = await run_in_threadpool(training.create_training, ctx, principal, body.to_request())
    return training_job(created, "userLoraId")


@router.get("/elements")
def list_elements(ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    own = training.list_trainings(ctx, principal, ELEMENT, principal.account_id)
    platform = [platform_element(element) for element in platform_elements.platform_elements(ctx)]
    return {"loras": platform + [listed_element(view) for view in own if view.status == "COMPLETE"]}


@router.get("/elements/user/{user_id}")
def custom_elements(user_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    views = training.list_trainings(ctx, principal, ELEMENT, user_id)
    return {"user_loras": [element_object(view) for view in views]}


@router.get("/elements/{element_id}")
def get_element(element_id: int, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    view = training.get_training(ctx, principal, ELEMENT, lora_id=element_id)
    return {"user_loras_by_pk": element_object(view)}


@router.delete("/elements/{element_id}")
def delete_element(element_id: int, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    row = training.delete_training(ctx, principal, ELEMENT, lora_id=element_id)
    return {"delete_user_loras_by_pk": {"id": row.id}}
