"""Blueprint files: named, versioned workflows of steps over sfumato's own job kinds.

A blueprint is one TOML file. Its versions are chains of nodes; each node is one step (a
task: ``text_to_image``, ``remove_background``, ``upscale``, ``image_to_video``) whose
picture feeds the next node. A node says which of its settings a caller may set when the
blueprint is executed (``inputs``: ``text``, ``textVariables``, ``imageUrl``) and the
defaults of its prompt's ``{placeholders}``.

Files are checked as they are read, and a mistake names the file and the key at fault, so a
server with a bad blueprint file refuses to start instead of failing an execution later.
Only the standard library here: the API server imports it.
"""

from __future__ import annotations

import re
import tomllib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

TEXT, IMAGE_URL, TEXT_VARIABLES = "text", "imageUrl", "textVariables"
SETTINGS = (TEXT, IMAGE_URL, TEXT_VARIABLES)
PLATFORMS = ("Android", "iOS", "Web", "API")
# Per task: whether it starts from a picture, whether it has a prompt, and the options a node
# may fix (with their types); its output is a picture except for image_to_video's clip.
TEXT_TO_IMAGE, REMOVE_BACKGROUND, UPSCALE, IMAGE_TO_VIDEO = (
    "text_to_image",
    "remove_background",
    "upscale",
    "image_to_video",
)
_INT, _FLOAT, _STR = (int,), (int, float), (str,)
TASK_OPTIONS: dict[str, dict[str, tuple[type, ...]]] = {
    TEXT_TO_IMAGE: {
        "width": _INT,
        "height": _INT,
        "steps": _INT,
        "guidance": _FLOAT,
        "seed": _INT,
        "negative_prompt": _STR,
        "style": _STR,
    },
    REMOVE_BACKGROUND: {},
    UPSCALE: {"multiplier": _FLOAT},
    IMAGE_TO_VIDEO: {"duration": _INT, "seed": _INT, "negative_prompt": _STR},
}
TAKES_PICTURE = {TEXT_TO_IMAGE: False, REMOVE_BACKGROUND: True, UPSCALE: True, IMAGE_TO_VIDEO: True}
HAS_PROMPT = {TEXT_TO_IMAGE: True, REMOVE_BACKGROUND: False, UPSCALE: False, IMAGE_TO_VIDEO: True}
MAKES_VIDEO = {IMAGE_TO_VIDEO}
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NODE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_EPOCH = datetime(2026, 1, 1)


class BlueprintError(ValueError):
    """A blueprint file that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Node:
    """One step: its task, the model it runs (None: the server's default for the task), its
    prompt and the defaults of the prompt's placeholders, the settings a caller may give, and
    the options it fixes."""

    id: str
    task: str
    model: str | None = None
    prompt: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    def placeholders(self) -> list[str]:
        return list(dict.fromkeys(PLACEHOLDER.findall(self.prompt)))

    def required(self) -> list[str]:
        """The settings a caller must give: a first picture, and values for placeholders
        without a default."""
        needed = [IMAGE_URL] if IMAGE_URL in self.inputs else []
        if any(name not in self.variables for name in self.placeholders()):
            needed.append(TEXT_VARIABLES)
        return needed


@dataclass(frozen=True)
class Version:
    id: str
    number: int
    created_at: datetime
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Blueprint:
    id: str
    name: str
    description: str
    categories: tuple[str, ...]
    platforms: tuple[str, ...]
    official: bool  # shipped with sfumato (False: an operator's own file)
    versions: tuple[Version, ...]  # oldest first
    source: Path

    @property
    def created_at(self) -> datetime:
        return self.versions[0].created_at

    @property
    def updated_at(self) -> datetime:
        return self.versions[-1].created_at


def parse_file(path: Path, *, official: bool) -> Blueprint:
    """The blueprint a TOML file declares; :class:`BlueprintError` saying where it is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BlueprintError(f"blueprint file {path}: {exc}") from None
    try:
        return _blueprint(data, path, official)
    except BlueprintError as exc:
        raise BlueprintError(f"blueprint file {path}: {exc}") from None


def _blueprint(data: dict[str, Any], path: Path, official: bool) -> Blueprint:
    _known(data, {"id", "name", "description", "categories", "platforms", "versions"}, "the file")
    versions_data = data.get("versions")
    if not isinstance(versions_data, list) or not versions_data:
        raise BlueprintError("needs at least one [[versions]] table")
    versions = tuple(_version(item, f"versions[{index}]") for index, item in enumerate(versions_data))
    numbers = [version.number for version in versions]
    if len(set(numbers)) != len(numbers):
        raise BlueprintError(f"version numbers must differ (got {numbers})")
    platforms = _strings(data.get("platforms", ["API"]), "platforms")
    unknown = [p for p in platforms if p not in PLATFORMS]
    if unknown:
        raise BlueprintError(f"platforms: {unknown} are not among {list(PLATFORMS)}")
    return Blueprint(
        id=_uuid(data.get("id"), "id"),
        name=_text(data.get("name"), "name"),
        description=str(data.get("description", "")),
        categories=tuple(_strings(data.get("categories", []), "categories")),
        platforms=tuple(platforms),
        official=official,
        versions=tuple(sorted(versions, key=lambda version: version.number)),
        source=path,
    )


def _version(data: Any, where: str) -> Version:
    if not isinstance(data, dict):
        raise BlueprintError(f"{where} must be a table")
    _known(data, {"id", "number", "created", "nodes"}, where)
    number = data.get("number", 1)
    if not isinstance(number, int) or number < 1:
        raise BlueprintError(f"{where}.number must be a whole number of at least 1")
    nodes_data = data.get("nodes")
    if not isinstance(nodes_data, list) or not nodes_data:
        raise BlueprintError(f"{where} needs at least one [[versions.nodes]] table")
    nodes = tuple(_node(item, f"{where}.nodes[{index}]", index) for index, item in enumerate(nodes_data))
    ids = [node.id for node in nodes]
    if len(set(ids)) != len(ids):
        raise BlueprintError(f"{where}: node ids must differ (got {ids})")
    for before, node in pairwise(nodes):
        if before.task in MAKES_VIDEO:
            raise BlueprintError(f"{where}: node {node.id!r} follows {before.id!r}, whose clip no step takes")
    return Version(
        id=_uuid(data.get("id"), f"{where}.id"),
        number=number,
        created_at=_created(data.get("created"), where),
        nodes=nodes,
    )


def _node(data: Any, where: str, index: int) -> Node:
    if not isinstance(data, dict):
        raise BlueprintError(f"{where} must be a table")
    task = data.get("task")
    if task not in TASK_OPTIONS:
        raise BlueprintError(f"{where}.task must be one of {list(TASK_OPTIONS)} (got {task!r})")
    options_known = TASK_OPTIONS[task]
    _known(data, {"id", "task", "model", "prompt", "variables", "inputs", *options_known}, where)
    node_id = data.get("id")
    if not isinstance(node_id, str) or not _NODE_ID.match(node_id):
        raise BlueprintError(f"{where}.id must be 1-64 letters, digits, '-' or '_'")
    inputs = _strings(data.get("inputs", []), f"{where}.inputs")
    for name in inputs:
        if name not in SETTINGS:
            raise BlueprintError(f"{where}.inputs: {name!r} is not one of {list(SETTINGS)}")
    if not HAS_PROMPT[task] and (TEXT in inputs or TEXT_VARIABLES in inputs or "prompt" in data):
        raise BlueprintError(f"{where}: task {task} has no prompt (so no prompt, text or textVariables)")
    first_picture = TAKES_PICTURE[task] and index == 0
    if first_picture and IMAGE_URL not in inputs:
        raise BlueprintError(f"{where}: the first step starts from a picture, so its inputs need 'imageUrl'")
    if IMAGE_URL in inputs and not first_picture:
        raise BlueprintError(f"{where}: only a first step that starts from a picture takes 'imageUrl'")
    prompt = data.get("prompt", "")
    if not isinstance(prompt, str):
        raise BlueprintError(f"{where}.prompt must be a string")
    if HAS_PROMPT[task] and not prompt.strip() and TEXT not in inputs:
        raise BlueprintError(f"{where}: give a prompt, or let callers give one ('text' in inputs)")
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise BlueprintError(f"{where}.variables must be a table of strings")
    placeholders = PLACEHOLDER.findall(prompt)
    if placeholders and TEXT_VARIABLES not in inputs and any(p not in variables for p in placeholders):
        raise BlueprintError(f"{where}: placeholders without a default need 'textVariables' in inputs")
    options = {}
    for name, types in options_known.items():
        if name in data:
            value = data[name]
            if isinstance(value, bool) or not isinstance(value, types):
                raise BlueprintError(f"{where}.{name} must be a {types[-1].__name__}")
            options[name] = value
    model = data.get("model")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise BlueprintError(f"{where}.model must be a model key or id")
    return Node(
        id=node_id,
        task=task,
        model=model,
        prompt=prompt,
        variables=dict(variables),
        inputs=tuple(inputs),
        options=options,
    )


def _known(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BlueprintError(f"{where}: unknown keys {unknown} (allowed: {sorted(allowed)})")


def _uuid(value: Any, where: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise BlueprintError(f"{where} must be a UUID (got {value!r})") from None


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BlueprintError(f"{where} must be a non-empty string")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BlueprintError(f"{where} must be a list of strings")
    return list(value)


def _created(value: Any, where: str) -> datetime:
    if value is None:
        return _EPOCH
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    raise BlueprintError(f"{where}.created must be a TOML date or date-time")
