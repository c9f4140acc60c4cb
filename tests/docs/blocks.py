"""The code blocks of the documentation: every fenced ``python``, ``bash``/``sh`` and ``ts``
block of ``docs/**/*.md`` and of the README, with the markers written just above it:

- ``<!-- docs: skip (reason) -->``: the block is not run (the reason is required);
- ``<!-- docs: output NAME -->``: what the block prints is kept, normalised, in
  ``docs/snippets/NAME.txt``, which the page includes below the block.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
SNIPPETS = DOCS / "snippets"
LANGUAGES = {"python": "python", "py": "python", "bash": "bash", "sh": "bash", "ts": "ts", "typescript": "ts"}

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)")
_MARKER = re.compile(r"^[ \t]*<!--\s*docs:\s*(?P<verb>skip|output)\b\s*(?P<rest>.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    page: str  # relative to docs/
    line: int  # of the opening fence, 1-based
    language: str  # python, bash or ts
    code: str
    skip: str | None  # the reason, when marked skip
    output: str | None  # the snippet's name, when its output is shown

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def blocks_of(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    relative = page.relative_to(DOCS).as_posix() if page.is_relative_to(DOCS) else page.name
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        fence, indent = opening["fence"], opening["indent"]
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        language = LANGUAGES.get(opening["lang"].lower())
        if language is not None:
            skip, output = _markers(lines, index, relative)
            body = textwrap.dedent("\n".join(line.removeprefix(indent) for line in lines[index + 1 : end]))
            found.append(Block(relative, index + 1, language, body + "\n", skip, output))
        index = end + 1
    return found


def _markers(lines: list[str], fence: int, page: str) -> tuple[str | None, str | None]:
    skip = output = None
    above = fence - 1
    while above >= 0 and (marker := _MARKER.match(lines[above])):
        if marker["verb"] == "skip":
            reason = marker["rest"].strip()
            if not (reason.startswith("(") and reason.endswith(")") and len(reason) > 2):
                raise ValueError(
                    f"{page}:{above + 1}: a skip marker needs a reason: <!-- docs: skip (why) -->"
                )
            skip = reason[1:-1]
        else:
            output = marker["rest"].strip()
            if not re.fullmatch(r"[\w-]+", output):
                raise ValueError(
                    f"{page}:{above + 1}: an output marker needs a name: <!-- docs: output NAME -->"
                )
        above -= 1
    return skip, output


def all_blocks() -> list[Block]:
    pages = [README, *sorted(p for p in DOCS.rglob("*.md") if "snippets" not in p.parts)]
    return [block for page in pages for block in blocks_of(page)]


_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_KEY = re.compile(r"\b(sfu|whsec)_[A-Za-z0-9_\-+/=]+")
_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")
_QUERY = re.compile(r"(https?://[^\s\"'?]+)\?[^\s\"']+")


def normalise(output: str, origin: str) -> str:
    """What a run printed, less what differs from run to run (ids, keys, times, signatures)."""
    text = output.replace(origin, "http://127.0.0.1:8000")
    text = _QUERY.sub(r"\1?…", text)
    text = _UUID.sub("<id>", text)
    text = _KEY.sub(lambda m: f"{m[1]}_…", text)
    text = _TIME.sub("<time>", text)
    return text.rstrip() + "\n"
