"""``/blueprints`` and ``/blueprint-executions`` shapes, in Leonardo's GraphQL-style spelling."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sfumato.api.schemas.common import WireModel, timestamp
from sfumato.blueprints import Blueprint
from sfumato.blueprints.definitions import HAS_PROMPT, IMAGE_URL, MAKES_VIDEO, TEXT, TEXT_VARIABLES
from sfumato.service.blueprint_plans import NodeInput
from sfumato.service.blueprints import ExecutionView, StepView, VersionView
from sfumato.service.paging import Page, Paging
from sfumato.store.models import BlueprintStep, Generation

Platform = Literal["Android", "iOS", "Web", "API"]
# A step's state as the wire shows it: waiting for its predecessor, queued, running, or ended.
_STEP_STATUS = {"waiting": "WAITING", "completed": "COMPLETED", "failed": "FAILED", "cancelled": "CANCELLED"}
_GENERATION_STATUS = {"PENDING": "PENDING", "COMPLETE": "COMPLETED", "FAILED": "FAILED"}


class ListBlueprintsBody(WireModel):
    after: str | None = Field(default=None, max_length=200)
    before: str | None = Field(default=None, max_length=200)
    categories: list[str] | None = Field(default=None, max_length=50)
    first: int | None = None
    last: int | None = None
    platforms: list[Platform] | None = Field(default=None, max_length=4)

    def paging(self) -> Paging:
        return Paging(first=self.first, last=self.last, after=self.after, before=self.before)


class TextVariableBody(WireModel):
    name: str = Field(max_length=100)
    value: str = Field(max_length=4000)


class NodeInputBody(WireModel):
    node_id: str = Field(alias="nodeId", max_length=64)
    setting_name: str = Field(alias="settingName", max_length=32)
    value: str | list[TextVariableBody] = Field(max_length=10_000_000)

    def to_input(self) -> NodeInput:
        value = self.value if isinstance(self.value, str) else [(v.name, v.value) for v in self.value]
        return NodeInput(node_id=self.node_id, setting=self.setting_name, value=value)


class ExecutionInputBody(WireModel):
    node_inputs: list[NodeInputBody] = Field(alias="nodeInputs", max_length=100)
    public: bool = False
    collection_ids: list[int | None] | None = Field(default=None, alias="collectionIds", max_length=100)


class ExecuteBlueprintBody(WireModel):
    blueprint_version_id: str = Field(alias="blueprintVersionId", max_length=64)
    input: ExecutionInputBody


def page_info(page: Page[Any]) -> dict[str, Any]:
    return {
        "startCursor": page.start_cursor,
        "endCursor": page.end_cursor,
        "hasNextPage": page.has_next,
        "hasPreviousPage": page.has_previous,
    }


def blueprint_object(blueprint: Blueprint) -> dict[str, Any]:
    return {
        "akUUID": blueprint.id,
        "name": blueprint.name,
        "description": blueprint.description,
        "official": blueprint.official,
        "teamId": None,
        "thumbnails": [],
        "createdAt": timestamp(blueprint.created_at),
        "updatedAt": timestamp(blueprint.updated_at),
        "categories": list(blueprint.categories),
        "platforms": list(blueprint.platforms),
    }


def blueprint_page(page: Page[Blueprint]) -> dict[str, Any]:
    edges = [{"cursor": cursor, "node": blueprint_object(blueprint)} for cursor, blueprint in page.items]
    return {"blueprints": {"edges": edges, "pageInfo": page_info(page), "totalCount": page.total}}


def versions_object(views: list[VersionView]) -> dict[str, Any]:
    edges = [{"cursor": view.version.id, "node": _version_node(view)} for view in views]
    info = {
        "startCursor": edges[0]["cursor"] if edges else None,
        "endCursor": edges[-1]["cursor"] if edges else None,
        "hasNextPage": False,
        "hasPreviousPage": False,
    }
    return {"blueprintVersions": {"edges": edges, "pageInfo": info, "totalCount": len(edges)}}


def _version_node(view: VersionView) -> dict[str, Any]:
    version = view.version
    reasons = [] if view.reason is None else [{"models": view.reason}]
    inputs = [
        {
            "nodeId": node.id,
            "settingName": setting,
            "required": setting in node.required(),
            "task": node.task,
            "default": _default(node.prompt, node.variables, setting),
        }
        for node in version.nodes
        for setting in node.inputs
    ]
    last = version.nodes[-1]
    return {
        "akUUID": version.id,
        "version": version.number,
        "cost": view.cost,
        "createdAt": timestamp(version.created_at),
        "updatedAt": timestamp(version.created_at),
        "executability": {"isExecutable": view.executable, "reasons": reasons},
        "models": list(view.models),
        "uiMetadata": {
            "inputs": inputs,
            "outputs": [{"nodeId": last.id, "type": "VIDEO" if last.task in MAKES_VIDEO else "IMAGE"}],
        },
        "uiMetadataSchemaVersion": "1",
        "nodes": [
            {
                "nodeId": node.id,
                "task": node.task,
                "model": node.model,
                "inputs": list(node.inputs),
                "prompt": node.prompt if HAS_PROMPT[node.task] else None,
            }
            for node in version.nodes
        ],
    }


def _default(prompt: str, variables: dict[str, str], setting: str) -> Any:
    if setting == TEXT:
        return prompt
    if setting == TEXT_VARIABLES:
        return [{"name": name, "value": value} for name, value in variables.items()]
    assert setting == IMAGE_URL
    return None


def execution_object(view: ExecutionView) -> dict[str, Any]:
    execution = view.execution
    return {
        "akUUID": execution.id,
        "createdAt": timestamp(execution.created_at),
        "inputs": list(execution.inputs),
        "public": execution.public,
        "status": view.status,
        "blueprintId": execution.blueprint_id,
        "blueprintVersionId": execution.version_id,
        "apiCreditCost": execution.quote,
        "failedReason": execution.failure_reason,
        "steps": [_step_object(step) for step in view.steps],
    }


def _step_object(view: StepView) -> dict[str, Any]:
    step, standing = view.step, view.standing
    status = _STEP_STATUS.get(step.status, "QUEUED")
    if standing is not None:
        status = standing.state.upper()
    progress = standing.progress if standing is not None else None
    return {
        "nodeId": step.node_id,
        "task": step.task,
        "status": status,
        "generationId": step.generation_id
        if step.status != "waiting" and step.status != "cancelled"
        else None,
        "cost": step.cost,
        "queuePosition": standing.queue_position if standing is not None else None,
        "progress": {"stage": progress.stage, "step": progress.step, "total": progress.total}
        if progress
        else None,
        "error": step.error,
    }


def execution_generations_object(page: Page[tuple[BlueprintStep, Generation]]) -> dict[str, Any]:
    edges = [
        {
            "cursor": cursor,
            "node": {
                "akUUID": step.id,
                "generationId": generation.id,
                "nodeId": step.node_id,
                "status": _GENERATION_STATUS.get(generation.status, "PENDING"),
                "failedReason": None,
                "reason": generation.failure_reason,
            },
        }
        for cursor, (step, generation) in page.items
    ]
    return {"blueprintExecutionGenerations": {"edges": edges, "pageInfo": page_info(page)}}
