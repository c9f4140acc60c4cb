"""``/blueprints`` and ``/blueprint-executions``: versioned multi-step workflows and their runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.schemas.blueprints import (
    ExecuteBlueprintBody,
    ListBlueprintsBody,
    Platform,
    blueprint_object,
    blueprint_page,
    execution_generations_object,
    execution_object,
    versions_object,
)
from sfumato.service import blueprints
from sfumato.service.paging import Paging

router = APIRouter(tags=["blueprints"])


@router.get("/blueprints")
def list_blueprints(
    ctx: ContextDep,
    principal: PrincipalDep,
    body: ListBlueprintsBody | None = None,
    first: int | None = None,
    last: int | None = None,
    after: Annotated[str | None, Query(max_length=200)] = None,
    before: Annotated[str | None, Query(max_length=200)] = None,
    categories: Annotated[list[str] | None, Query()] = None,
    platforms: Annotated[list[Platform] | None, Query()] = None,
) -> dict[str, Any]:
    """The SDK sends its filters as a JSON body on this GET; query parameters work as well."""
    given = body or ListBlueprintsBody(
        first=first, last=last, after=after, before=before, categories=categories, platforms=platforms
    )
    page = blueprints.list_blueprints(
        ctx, given.paging(), categories=given.categories, platforms=list(given.platforms or [])
    )
    return blueprint_page(page)


@router.get("/blueprints/{blueprint_id}")
def get_blueprint_by_id(blueprint_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"blueprint": blueprint_object(blueprints.get_blueprint(ctx, blueprint_id))}


@router.get("/blueprints/{blueprint_id}/versions")
def get_blueprint_versions(blueprint_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return versions_object(blueprints.get_versions(ctx, blueprint_id))


@router.post("/blueprint-executions")
def execute_blueprint(body: ExecuteBlueprintBody, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    execution_id, quote = blueprints.execute(
        ctx,
        principal,
        body.blueprint_version_id,
        [given.to_input() for given in body.input.node_inputs],
        public=body.input.public,
        collection_ids=body.input.collection_ids,
    )
    return {"executeBlueprint": {"akUUID": execution_id, "apiCreditCost": quote}}


@router.get("/blueprint-executions/{execution_id}")
def get_blueprint_execution(execution_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"blueprintExecution": execution_object(blueprints.get_execution(ctx, principal, execution_id))}


@router.get("/blueprint-executions/{execution_id}/generations")
def get_blueprint_execution_generations(
    execution_id: str,
    ctx: ContextDep,
    principal: PrincipalDep,
    first: int | None = None,
    last: int | None = None,
    after: Annotated[str | None, Query(max_length=200)] = None,
    before: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    paging = Paging(first=first, last=last, after=after, before=before)
    return execution_generations_object(
        blueprints.execution_generations(ctx, principal, execution_id, paging)
    )
