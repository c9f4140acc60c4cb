"""An append-only JSON-lines file whose every line is checked when it is read back.

Each record is written with one ``write`` on a descriptor opened ``O_APPEND``: a process
killed at any instant leaves whole lines behind (the kernel finishes a write it started),
so a line that does not parse was damaged by something else, and is refused rather than
guessed at.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from sfumato.batch import BatchError

Record = TypeVar("Record", bound=BaseModel)


class Journal(Generic[Record]):
    def __init__(self, path: Path, model: type[Record], *, fix_hint: str) -> None:
        self.path = path
        self.model = model
        self.fix_hint = fix_hint
        self._fd: int | None = None

    def read(self) -> list[Record]:
        """Every record so far; :class:`BatchError` naming the first damaged line."""
        if not self.path.exists():
            return []
        records = []
        data = self.path.read_bytes()
        for number, line in enumerate(data.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                records.append(self.model.model_validate_json(line))
            except ValidationError as exc:
                problem = exc.errors()[0]["msg"] if exc.errors() else str(exc)
                raise BatchError(
                    f"{self.path}:{number} is corrupted ({problem}): {line[:120]!r}. {self.fix_hint}"
                ) from exc
        if data and not data.endswith(b"\n"):
            raise BatchError(f"{self.path}:{number} is cut short (no line end). {self.fix_hint}")
        return records

    def append(self, record: Record) -> None:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        line = json.dumps(record.model_dump(mode="json", exclude_none=True), separators=(",", ":")) + "\n"
        os.write(self._fd, line.encode())

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
