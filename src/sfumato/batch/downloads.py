"""Storing a finished job's outputs under ``<out>/files/``, each exactly once.

A file is named by its line id and its place among the job's outputs
(``files/<id>-0.png``), written to ``.part`` and renamed when whole. A file already
there was stored whole by an earlier run and is not fetched again (only hashed).
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

import httpx

from sfumato.batch.http import Api
from sfumato.batch.kinds import Output
from sfumato.batch.manifest import StoredFile

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".mp4", ".webm")
FILES = "files"


def file_name(line_id: str, index: int, output: Output) -> str:
    suffix = PurePosixPath(httpx.URL(output.url).path).suffix.lower()
    if suffix not in EXTENSIONS:
        suffix = ".mp4" if output.media == "video" else ".png"
    return f"{line_id}-{index}{suffix}"


async def store_outputs(
    api: Api, out_dir: Path, line_id: str, outputs: tuple[Output, ...]
) -> list[StoredFile]:
    folder = out_dir / FILES
    folder.mkdir(parents=True, exist_ok=True)
    stored = []
    for index, output in enumerate(outputs):
        target = folder / file_name(line_id, index, output)
        if target.exists():
            size, sha256 = target.stat().st_size, _sha256(target)
        else:
            size, sha256 = await api.download(output.url, target)
        relative = target.relative_to(out_dir).as_posix()
        stored.append(
            StoredFile(
                path=relative, id=output.id, bytes=size, sha256=sha256, url=output.url, media=output.media
            )
        )
    return stored


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
