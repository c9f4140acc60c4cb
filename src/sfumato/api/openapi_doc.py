"""The served OpenAPI document, completed where the framework cannot see the wire.

The framework documents what a route's signature says. Three things it cannot see:

- errors leave through exception handlers, in Leonardo's envelope (``{"error", "path",
  "code"}``) or, under ``/v1``, OpenAI's, with 400 for a body that does not validate —
  never the framework's 422, which is replaced here by the statuses the routes answer;
- the bearer key is read by the key gate before the body (:mod:`sfumato.api.auth_gate`),
  so the document declares it as the ``bearerAuth`` scheme of every key-checked route,
  and the explorer's "Authorize" button sends it;
- ``/v1/images/edits`` and ``/v1/images/variations`` read their multipart forms
  themselves, so their fields (:mod:`sfumato.api.openai_compat.forms`) and files are
  described here;
- the routes answer with the wire shapes of :mod:`sfumato.api.schemas.views`, plain
  dictionaries: each operation's answer is shown by an example recorded from a real run
  (``openapi_examples.json``, written by the documentation's tests), with a schema read off
  that example.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from sfumato.api.openai_compat.errors import PREFIX as OPENAI_PREFIX
from sfumato.api.openai_compat.forms import ImageEditForm, ImageVariationForm
from sfumato.api.openai_compat.videos import VideoForm

BEARER = "bearerAuth"
EXAMPLES = Path(__file__).with_name("openapi_examples.json")


class LeonardoError(BaseModel):
    """Leonardo's error envelope."""

    error: str = Field(description="What is wrong, in words.")
    path: str = Field(description="JSON path of the field at fault, `$` for the request as a whole.")
    code: str = Field(description="A stable code: `invalid-request`, `access-denied`, `not-found`, …")


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(description="`invalid_request_error`, `requests`, `server_error`, …")
    param: str | None = Field(default=None, description="The request field at fault, if any.")
    code: str | None = Field(default=None, description="`invalid_api_key`, `model_not_found`, …")


class OpenAIError(BaseModel):
    """OpenAI's error envelope, on ``/v1``."""

    error: OpenAIErrorDetail


_ERRORS = {
    "400": "Invalid request: the body, a field, an unavailable model, a guardrail or the content policy.",
    "401": "Missing or invalid API key.",
    "402": "Not enough credits.",
    "404": "No such resource for this account.",
    "409": "An `Idempotency-Key` reused with another request, or still in progress.",
    "413": "The request body is larger than the route allows.",
    "429": "Rate limit, queue depth or daily budget exceeded (`Retry-After` says when to retry).",
}
_OPENAI_ERRORS = {key: text for key, text in _ERRORS.items() if key != "402"}
_OPENAI_ERRORS["429"] = "Rate limit exceeded, or not enough credits (`insufficient_quota`)."

# Each form's model and its files: name → (description, required).
_FORMS: dict[str, tuple[type[BaseModel], dict[str, tuple[str, bool]]]] = {
    "/images/edits": (
        ImageEditForm,
        {
            "image": ("The picture to edit: one PNG, JPEG or WebP (several: `image[]`).", True),
            "mask": ("Optional PNG of the picture's size; its transparent area is repainted.", False),
        },
    ),
    "/images/variations": (
        ImageVariationForm,
        {"image": ("The picture to redraw: PNG, JPEG or WebP.", True)},
    ),
    "/videos": (
        VideoForm,
        {"input_reference": ("Optional first frame: PNG, JPEG or WebP (image-to-video).", False)},
    ),
}


def install(app: FastAPI) -> None:
    """Serve the completed document at ``app.openapi_url`` (built once, on first use)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            complete(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in (LeonardoError, OpenAIErrorDetail, OpenAIError):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schema.pop("$defs", None)  # each is a component of its own
        schemas[model.__name__] = schema
    schemes = document["components"].setdefault("securitySchemes", {})
    schemes[BEARER] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An sfumato API key (`sfumato keys create`), sent as `Authorization: Bearer sfu_…`.",
    }
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    examples = recorded_examples()
    for path, operations in document.get("paths", {}).items():
        openai = path.startswith(OPENAI_PREFIX + "/")
        for method, operation in operations.items():
            _errors(operation, openai)
            example = examples.get(f"{method.upper()} {path}")
            if example is not None:
                _example(operation, example)
            operation["security"] = [{BEARER: []}]
            # The key is the scheme's; a header parameter of that name is ignored by OpenAPI.
            parameters = [
                parameter
                for parameter in operation.get("parameters", [])
                if not (
                    parameter.get("in") == "header" and parameter.get("name", "").lower() == "authorization"
                )
            ]
            if parameters:
                operation["parameters"] = parameters
            else:
                operation.pop("parameters", None)
            form = _FORMS.get(path.removeprefix(OPENAI_PREFIX)) if openai else None
            if form is not None and "requestBody" not in operation:
                operation["requestBody"] = _multipart(*form)


@cache
def recorded_examples() -> dict[str, Any]:
    """``{"METHOD /path": answer}`` as recorded from a run; empty when none was."""
    try:
        return dict(json.loads(EXAMPLES.read_text()))
    except FileNotFoundError:
        return {}


def _example(operation: dict[str, Any], example: Any) -> None:
    content = operation.get("responses", {}).get("200", {}).get("content", {}).get("application/json")
    if content is None:
        return
    content["example"] = example
    schema = content.get("schema", {})
    if "$ref" not in schema and not schema.get("properties"):
        content["schema"] = {**infer_schema(example), "title": schema.get("title", "Response")}


def infer_schema(value: Any) -> dict[str, Any]:
    """The JSON Schema that ``value`` shows: types and keys, nothing it cannot show."""
    if isinstance(value, dict):
        return {"type": "object", "properties": {key: infer_schema(item) for key, item in value.items()}}
    if isinstance(value, list):
        return {"type": "array", "items": infer_schema(value[0]) if value else {}}
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    return {}


def _is_key_header(parameter: dict[str, Any]) -> bool:
    return bool(parameter.get("in") == "header" and parameter.get("name", "").lower() == "authorization")


def _errors(operation: dict[str, Any], openai: bool) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    envelope = "OpenAIError" if openai else "LeonardoError"
    for status, description in (_OPENAI_ERRORS if openai else _ERRORS).items():
        responses.setdefault(
            status,
            {
                "description": description,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{envelope}"}}},
            },
        )


def _multipart(model: type[BaseModel], files: dict[str, tuple[str, bool]]) -> dict[str, Any]:
    schema = model.model_json_schema()
    properties: dict[str, Any] = {
        name: {"type": "string", "format": "binary", "description": text} for name, (text, _) in files.items()
    }
    required_files = [name for name, (_, required) in files.items() if required]
    properties.update(schema.get("properties", {}))
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "title": schema.get("title", model.__name__),
                    "properties": properties,
                    "required": [*required_files, *schema.get("required", [])],
                }
            }
        },
    }
