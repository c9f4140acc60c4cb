"""The requests of a batch: a JSONL file, or a template expanded over the rows of a CSV.

Every request is checked before anything is sent: its kind, its body against the server's
wire schema, its id (unique, usable as a file name). A mistake is reported with its file
and line, so a 10,000-line run does not stop at line 7,312 for a typo.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sfumato.batch import BatchError
from sfumato.batch.kinds import DEFAULT_KIND, KINDS, Kind

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# The batch's own keys on a line; everything else is the wire body. A kind whose body has an
# "id" of its own (the variations: the picture to work on) takes the wire body under "body".
RESERVED = ("id", "kind")


@dataclass(frozen=True)
class BatchRequest:
    """One job to run: its id, where it came from, its kind and its wire body."""

    id: str
    where: str  # "requests.jsonl:12", for messages
    kind: Kind
    body: dict[str, Any]
    origin: str  # what identifies the line for Idempotency-Keys: file path and line number

    def idempotency_key(self, attempt: int = 0) -> str:
        """The same for every run of the same line, so a resubmission after a crash is
        answered with the job already created; a new one for each retry of a FAILED job."""
        canonical = json.dumps(self.body, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(f"{self.origin}\n{self.kind.name}\n{attempt}\n{canonical}".encode())
        return f"sfumato-batch-{digest.hexdigest()[:48]}"


def read_jsonl(path: Path) -> list[BatchRequest]:
    """Each non-blank line a JSON object: a wire body, plus optional ``id`` and ``kind``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BatchError(f"cannot read {path}: {exc.strerror or exc}") from exc
    requests = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BatchError(f"{where}: not JSON ({exc.msg} at column {exc.colno})") from exc
        requests.append(
            _request(data, where, origin=f"{path.resolve()}:{number}", default_id=f"line-{number}")
        )
    return _unique(requests, path)


def expand_template(template: Path, rows: Path, base: dict[str, Any] | None = None) -> list[BatchRequest]:
    """One request per CSV row. A template that is a JSON object is the body, with
    ``{column}`` placeholders in its strings (a string that is only a placeholder takes the
    cell as JSON, so ``"{seed}"`` becomes a number); any other template is the prompt,
    merged over ``base``. Columns ``id`` and ``kind`` set the request's own."""
    try:
        text = template.read_text(encoding="utf-8")
        with rows.open(newline="", encoding="utf-8") as handle:
            table = list(csv.DictReader(handle))
    except OSError as exc:
        raise BatchError(f"cannot read {exc.filename}: {exc.strerror or exc}") from exc
    try:
        shape: Any = json.loads(text)
    except json.JSONDecodeError:
        shape = None
    if not isinstance(shape, dict):
        shape = {**(base or {}), "prompt": text.strip()}
    requests = []
    for number, row in enumerate(table, start=2):  # line 1 is the header
        where = f"{rows.name}:{number}"
        cells = {name: value for name, value in row.items() if name is not None}
        data = _fill(shape, cells, where)
        data.setdefault("id", cells.get("id") or f"row-{number - 1}")
        if cells.get("kind"):
            data.setdefault("kind", cells["kind"])
        origin = f"{template.resolve()}+{rows.resolve()}:{number}"
        requests.append(_request(data, where, origin=origin, default_id=f"row-{number - 1}"))
    return _unique(requests, rows)


def _fill(value: Any, cells: dict[str, str], where: str) -> Any:
    if isinstance(value, dict):
        return {key: _fill(item, cells, where) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, cells, where) for item in value]
    if not isinstance(value, str):
        return value
    names = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
    missing = [name for name in names if name not in cells]
    if missing:
        raise BatchError(f"{where}: the template names {{{missing[0]}}} but the CSV has no such column")
    if len(names) == 1 and value == "{" + names[0] + "}":
        cell = cells[names[0]]
        try:
            return json.loads(cell)
        except json.JSONDecodeError:
            return cell
    return value.format_map(cells)


def _request(data: Any, where: str, *, origin: str, default_id: str) -> BatchRequest:
    if not isinstance(data, dict):
        raise BatchError(f"{where}: a request is a JSON object, not {type(data).__name__}")
    kind_name = data.get("kind", DEFAULT_KIND)
    kind = KINDS.get(kind_name) if isinstance(kind_name, str) else None
    if kind is None:
        raise BatchError(f"{where}: unknown kind {kind_name!r}; one of {', '.join(KINDS)}")
    if "body" in data:  # {"id", "kind", "body": {…}}: the wire body apart
        body = data["body"]
        if not isinstance(body, dict) or set(data) - {"id", "kind", "body"}:
            raise BatchError(f'{where}: beside "body" (a JSON object) a line may hold only "id" and "kind"')
        request_id = str(data.get("id", default_id))
    elif "id" in kind.schema.model_fields:  # the wire body's own "id" (a variation's picture)
        body = {key: value for key, value in data.items() if key != "kind"}
        request_id = default_id
    else:
        body = {key: value for key, value in data.items() if key not in RESERVED}
        request_id = str(data.get("id", default_id))
    if not ID_PATTERN.fullmatch(request_id):
        raise BatchError(
            f"{where}: id {request_id!r} must be 1-128 letters, digits, '.', '_' or '-' "
            "(it names the output files)"
        )
    try:
        kind.schema.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise BatchError(f"{where}: {field}: {first['msg']} (kind {kind.name})") from exc
    return BatchRequest(id=request_id, where=where, kind=kind, body=body, origin=origin)


def _unique(requests: list[BatchRequest], source: Path) -> list[BatchRequest]:
    seen: dict[str, str] = {}
    for request in requests:
        if request.id in seen:
            raise BatchError(f"{request.where}: id {request.id!r} is already used at {seen[request.id]}")
        seen[request.id] = request.where
    if not requests:
        raise BatchError(f"{source}: no requests")
    return requests
