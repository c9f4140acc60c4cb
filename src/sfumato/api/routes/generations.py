"""``/generations``: create, read, list by user, delete; sfumato's replay and its report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from sfumato.api import generation_submit
from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.schemas.generations import CreateGenerationBody, created_job
from sfumato.api.schemas.replay import replay_report_object
from sfumato.api.schemas.views import generation_object
from sfumato.service import generations, replay, replay_report

router = APIRouter(tags=["generations"])


# A plainly valid request is served by the lean path (sfumato.api.lean_path); both ways
# answer through sfumato.api.generation_submit. (A docstring here would join the API document.)
@router.post("/generations", response_model=dict[str, Any])
async def create_generation(
    body: CreateGenerationBody, ctx: ContextDep, principal: PrincipalDep, request: Request
) -> Response:
    answer = await generation_submit.submit(ctx, principal, body, request.scope)
    return answer.response()


@router.get("/generations/{generation_id}")
def get_generation(generation_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    view = generations.get_generation(ctx, principal, generation_id)
    return {"generations_by_pk": generation_object(view)}


@router.get("/generations/user/{user_id}")
def list_generations(
    user_id: str,
    ctx: ContextDep,
    principal: PrincipalDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    views = generations.list_generations(ctx, principal, user_id=user_id, offset=offset, limit=limit)
    return {"generations": [generation_object(view) for view in views]}


@router.delete("/generations/{generation_id}")
def delete_generation(generation_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    deleted = generations.delete_generation(ctx, principal, generation_id)
    return {"delete_generations_by_pk": {"id": deleted}}


@router.post("/generations/{generation_id}/replay")
def replay_generation(generation_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    created = replay.replay_generation(ctx, principal, generation_id)
    return created_job(created.generation_id, created.credit_cost)


@router.get("/generations/{generation_id}/replay-report")
def get_replay_report(generation_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    report = replay_report.replay_report(ctx, principal, generation_id)
    return {"replay_report": replay_report_object(report)}
