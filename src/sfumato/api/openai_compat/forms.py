"""OpenAI's multipart requests (``images.edit``, ``images.create_variation``): their
pictures as bytes and their other fields validated like a JSON body."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile

from sfumato.api.openai_compat.exceptions import InvalidParam
from sfumato.api.openai_compat.schemas import ImageGenerateBody
from sfumato.service.generations import MAX_SEED

FILES = ("image", "image[]", "mask")
Body = TypeVar("Body", bound=BaseModel)


class ImageEditForm(ImageGenerateBody):
    """``POST /v1/images/edits`` less its files (the SDK's ``ImageEditParams``)."""

    input_fidelity: Literal["high", "low"] | None = None
    strength: float | None = Field(default=None, ge=0, le=1)  # sfumato's: how much may change


class ImageVariationForm(BaseModel):
    """``POST /v1/images/variations`` less its picture (``ImageCreateVariationParams``)."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    n: int | None = Field(default=None, ge=1, le=10)
    size: str | None = None
    response_format: Literal["url", "b64_json"] | None = None
    user: str | None = None
    # sfumato's own, through extra_body.
    prompt: str | None = None
    strength: float | None = Field(default=None, ge=0, le=1)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    negative_prompt: str | None = None
    steps: int | None = Field(default=None, ge=1)
    guidance: float | None = Field(default=None, ge=0)


async def read(
    request: Request, model: type[Body], *, files: tuple[str, ...] = FILES
) -> tuple[Body, dict[str, list[bytes]]]:
    """The form's fields as ``model`` (a 400 naming the field at fault) and its ``files`` by name."""
    names = files
    form = await request.form()
    fields: dict[str, str] = {}
    pictures: dict[str, list[bytes]] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            if name not in names:
                raise InvalidParam(f"Unexpected file field {name!r}", param=name)
            pictures.setdefault(name.removesuffix("[]"), []).append(await value.read())
        elif name in names:
            raise InvalidParam(f"{name} must be a file", param=name)
        else:
            fields[name] = value
    return validated(model, fields), pictures


def validated(model: type[Body], fields: dict[str, Any]) -> Body:
    """``fields`` as ``model``, or the 400 that names the field at fault."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None


def all_of(files: dict[str, list[bytes]], name: str) -> list[bytes]:
    """Every picture of field ``name`` (``image`` and ``image[]`` alike), in order; at least one."""
    found = files.get(name, [])
    if not found:
        raise InvalidParam(f"{name} is required", param=name, code="missing_required_parameter")
    return found


def one(files: dict[str, list[bytes]], name: str, *, required: bool) -> bytes | None:
    """The single picture of field ``name``."""
    found = files.get(name, [])
    if len(found) > 1:
        raise InvalidParam(f"{len(found)} pictures in {name}: it takes one", param=name)
    if not found and required:
        raise InvalidParam(f"{name} is required", param=name, code="missing_required_parameter")
    return found[0] if found else None
