"""MkDocs hook: the reference pages, written at build time from the code they describe.

- ``reference/configuration.md`` from the settings class (every ``SFUMATO_*`` variable,
  its default and its description);
- ``reference/http.md`` from the OpenAPI document the server serves;
- ``reference/cli.md`` from the command definitions.

Nothing here is typed by hand, so the pages cannot drift from the code. The generators are
plain functions (``configuration()``, ``http()``, ``cli()``) that the tests call too.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

PAGES = {
    "reference/configuration.md": "configuration",
    "reference/http.md": "http",
    "reference/cli.md": "cli",
}


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for path, name in PAGES.items():
        files.append(File.generated(config, path, content=globals()[name]()))
    return files


# --- helpers ------------------------------------------------------------------------


def _cell(text: object) -> str:
    """Text fit for one Markdown table cell."""
    value = str(text).replace("\n", " ").replace("|", "\\|").strip()
    return value or " "


def _code(value: object) -> str:
    text = str(value)
    if not text:
        return "*(empty)*"
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


# --- configuration --------------------------------------------------------------------


def _default(field: Any) -> str:
    value = field.default_factory() if field.default_factory is not None else field.default
    if value is None:
        return "–"
    if isinstance(value, (dict, list)):
        return _code(json.dumps(value))
    if isinstance(value, bool):
        return _code(str(value).lower())
    return _code(value)


def _type(annotation: Any) -> str:
    import typing

    if typing.get_origin(annotation) is typing.Literal:
        return " or ".join(str(choice) for choice in typing.get_args(annotation))
    text = getattr(annotation, "__name__", None) or str(annotation)
    text = re.sub(r"\b(typing|pathlib|collections\.abc)\.", "", str(text) if "[" in str(annotation) else text)
    return text.replace("NoneType", "None")


def configuration() -> str:
    from sfumato.config import Settings

    prefix = Settings.model_config.get("env_prefix", "SFUMATO_")
    lines = [
        "# Configuration reference",
        "",
        "Every setting is an environment variable (read once at start by pydantic-settings, "
        f"prefix `{prefix}`). JSON-valued settings take JSON text. This page is generated from "
        "`src/sfumato/config.py`.",
        "",
        "| variable | type | default | what it does |",
        "|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        variable = f"{prefix}{name}".upper()
        lines.append(
            f"| `{variable}` | {_cell(_type(field.annotation))} | {_default(field)} "
            f"| {_cell(field.description or '')} |"
        )
    return "\n".join(lines) + "\n"


# --- HTTP -----------------------------------------------------------------------------


def openapi_document() -> dict[str, Any]:
    """The document ``GET /openapi.json`` serves, from an app built in a scratch directory."""
    from sfumato.app import create_app
    from sfumato.config import Settings

    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), database_url=f"sqlite:///{home}/db.sqlite", device="cpu")
        return dict(create_app(settings, with_worker=False).openapi())


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = document["components"]["schemas"][name]
    return schema


def _schema_type(document: dict[str, Any], schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    if "anyOf" in schema:
        kinds = [_schema_type(document, option) for option in schema["anyOf"]]
        return " or ".join(kind for kind in kinds if kind != "null") + (" or null" if "null" in kinds else "")
    if "enum" in schema:
        return " or ".join(_code(value) for value in schema["enum"])
    kind = str(schema.get("type", "object"))
    if kind == "array":
        return f"array of {_schema_type(document, schema.get('items', {}))}"
    if schema.get("format") == "binary":
        return "file"
    return kind


def _number(value: object) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _fields(document: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    schema = _resolve(document, schema)
    properties = schema.get("properties", {})
    if not properties:
        return []
    required = set(schema.get("required", []))
    rows = ["| field | type | required | description |", "|---|---|---|---|"]
    for name, prop in properties.items():
        description = prop.get("description", "")
        limits = [
            f"{word} {_number(prop[key])}"
            for key, word in (("minimum", "≥"), ("maximum", "≤"))
            if key in prop
        ]
        for option in prop.get("anyOf", []):
            limits += [
                f"{word} {_number(option[key])}"
                for key, word in (("minimum", "≥"), ("maximum", "≤"))
                if key in option
            ]
        if "default" in prop and prop["default"] is not None:
            limits.append(f"default {_code(json.dumps(prop['default']))}")
        detail = "; ".join(part for part in (description, ", ".join(limits)) if part)
        rows.append(
            f"| `{name}` | {_cell(_schema_type(document, prop))} | {'yes' if name in required else ''} "
            f"| {_cell(detail)} |"
        )
    return rows


def http(document: dict[str, Any] | None = None) -> str:
    document = document or openapi_document()
    lines = [
        "# HTTP reference",
        "",
        "Every operation sfumato serves, generated from the OpenAPI document it serves at "
        "`/openapi.json` (browse it live at `/docs` or `/redoc`, which work offline). Every "
        "operation takes the API key as `Authorization: Bearer sfu_…`; errors come in Leonardo's "
        'envelope `{"error", "path", "code"}`, and under `/v1` in OpenAI\'s '
        '`{"error": {"message", "type", "param", "code"}}`.',
        "",
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            tag = (operation.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append((method, path, operation))
    for tag in sorted(by_tag):
        lines += [f"## {tag}", ""]
        for method, path, operation in by_tag[tag]:
            lines += [f"### `{method.upper()} {path}`", ""]
            summary = operation.get("summary", "")
            description = operation.get("description", "")
            lines += [line for line in (f"**{summary}**" if summary else "", description) if line]
            lines.append("")
            parameters = operation.get("parameters", [])
            if parameters:
                lines += ["| parameter | in | type | required | description |", "|---|---|---|---|---|"]
                for parameter in parameters:
                    lines.append(
                        f"| `{parameter['name']}` | {parameter['in']} "
                        f"| {_cell(_schema_type(document, parameter.get('schema', {})))} "
                        f"| {'yes' if parameter.get('required') else ''} "
                        f"| {_cell(parameter.get('description', ''))} |"
                    )
                lines.append("")
            body = operation.get("requestBody")
            if body:
                for media, content in body.get("content", {}).items():
                    schema = content.get("schema", {})
                    lines += [f"Request body (`{media}`, {_schema_type(document, schema)}):", ""]
                    lines += _fields(document, schema) or ["(any JSON object)"]
                    lines.append("")
            ok = operation.get("responses", {}).get("200", {})
            answer = ok.get("content", {}).get("application/json", {})
            if "example" in answer:
                example = json.dumps(answer["example"], indent=2, ensure_ascii=False)
                lines += ["Example answer (recorded from a run of the documentation's examples):", ""]
                lines += ["```json", example, "```", ""]
            statuses = ", ".join(
                f"`{status}` {response.get('description', '')}".strip()
                for status, response in operation.get("responses", {}).items()
            )
            lines += [f"Responses: {statuses}", ""]
    return "\n".join(lines)


# --- CLI ------------------------------------------------------------------------------


def _option_row(parameter: Any) -> str:
    names = ", ".join(f"`{name}`" for name in [*parameter.opts, *parameter.secondary_opts])
    annotation = getattr(getattr(parameter, "type_descriptor", None), "annotation", None)
    kind = "flag" if getattr(parameter, "is_flag", False) else _type(annotation) if annotation else ""
    default = parameter.default
    shown = "" if default is None or parameter.required or callable(default) else _code(default)
    if isinstance(default, bool):
        shown = _code(str(default).lower())
    help_text = getattr(parameter, "help", "") or ""
    required = "yes" if parameter.required else ""
    return f"| {names} | {_cell(kind)} | {required} | {shown or ' '} | {_cell(help_text)} |"


def _command(lines: list[str], command: Any, path: list[str]) -> None:
    lines += [f"## `{' '.join(path)}`", ""]
    if command.help:
        lines += [command.help.strip().replace("\b\n", ""), ""]
    arguments = [p for p in command.params if type(p).__name__.endswith("Argument") and not p.hidden]
    options = [p for p in command.params if type(p).__name__.endswith("Option") and not p.hidden]
    usage = " ".join([*path, *(p.name.upper() for p in arguments), "[OPTIONS]" if options else ""])
    lines += ["```text", usage.strip(), "```", ""]
    if arguments or options:
        lines += ["| argument / option | type | required | default | description |", "|---|---|---|---|---|"]
        for argument in arguments:
            lines.append(
                f"| `{argument.name.upper()}` | {_cell(_type(argument.type_descriptor.annotation))} "
                f"| {'yes' if argument.required else ''} | | {_cell(getattr(argument, 'help', '') or '')} |"
            )
        lines += [_option_row(option) for option in options]
        lines.append("")


def _walk(lines: list[str], command: Any, path: list[str]) -> None:
    if hasattr(command, "list_commands"):
        if len(path) > 1:
            lines += [f"## `{' '.join(path)} …`", "", (command.help or "").strip(), ""]
        for name in command.list_commands(None):
            sub = command.get_command(None, name)
            if sub is not None and not getattr(sub, "hidden", False):
                _walk(lines, sub, [*path, name])
    else:
        _command(lines, command, path)


def cli() -> str:
    import typer.main

    from sfumato.cli import app

    root = typer.main.get_command(app)
    lines = [
        "# CLI reference",
        "",
        (root.help or "").strip(),
        "",
        "Generated from the command definitions (`src/sfumato/cli.py` and the modules it "
        "mounts); `sfumato COMMAND --help` prints the same on a terminal. Every command reads "
        "the same `SFUMATO_*` settings as the server (see the "
        "[configuration reference](configuration.md)).",
        "",
    ]
    _walk(lines, root, ["sfumato"])
    return "\n".join(lines)
