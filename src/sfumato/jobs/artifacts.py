"""What a job's attempt produces and where it puts it.

Every output is one ``Artifact`` record — an image, a video, a weights file or a mesh —
whatever kind of job made it: where its blob lies, its content type, size in bytes and
sha256, and the facts of its type (dimensions; duration, frame rate, frame count and a
poster for a video). The writers in ``jobs.writers`` encode and upload them.

Every attempt writes under keys of its own (they carry its lease number), so a worker that
lost its lease but runs on never overwrites what another attempt recorded.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sfumato.blobs import BlobNotFound, BlobStore
from sfumato.engine.errors import EngineError

if TYPE_CHECKING:
    from PIL.Image import Image

ArtifactType = Literal["image", "video", "weights", "mesh"]
IMAGE: ArtifactType = "image"
VIDEO: ArtifactType = "video"
WEIGHTS: ArtifactType = "weights"
MESH: ArtifactType = "mesh"


@dataclass(frozen=True)
class Attempt:
    """One run of a job, as its runner sees it: ``target`` is the id its outputs are filed
    under (its generation's, else the job's own), ``lease`` the number of the lease it runs
    under, unique per job, so no two attempts ever write the same blob."""

    target: str
    lease: int


@dataclass(frozen=True, kw_only=True)
class Artifact:
    """One output an attempt uploaded: where it lies, what it is, how big, and its content hash.

    ``width``/``height`` are set for images and videos; ``duration_seconds``, ``fps``,
    ``frame_count`` and ``poster`` (an image artifact of the first frame) for videos only;
    ``seed`` where one seed drew it. ``position`` orders a job's outputs.
    """

    type: ArtifactType
    blob_key: str
    content_type: str
    size_bytes: int
    sha256: str
    position: int = 0
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None
    fps: float | None = None
    frame_count: int | None = None
    poster: Artifact | None = None
    nsfw: bool = False  # the output safety check flagged it (worker/screening.py)

    @property
    def blob_keys(self) -> list[str]:
        """Every blob this record points to (a video's poster too)."""
        return [self.blob_key, *(self.poster.blob_keys if self.poster else [])]

    def picture(self) -> Artifact:
        """The image that shows this output: itself, or a video's poster; an error for others."""
        picture = self.poster if self.type == VIDEO else self
        if picture is None or picture.type != IMAGE or picture.width is None or picture.height is None:
            raise EngineError(f"a {self.type} output has no picture to record as an image")
        return picture


TaskResult = tuple[list[Artifact], dict[str, object]]


def artifact_key(
    target: str, lease: int, position: int, extension: str, *, folder: str = "generations"
) -> str:
    """Where an attempt (by its lease number) puts the output at ``position`` of ``target``:
    ``{folder}/{target}/lease-{lease}/{position}.{extension}``."""
    return f"{folder}/{target}/lease-{lease}/{position}.{extension}"


def poster_key(key: str) -> str:
    """Where a video's poster lies: beside the video, ``….poster.png``."""
    stem = key.rsplit(".", 1)[0] if "." in key.rsplit("/", 1)[-1] else key
    return f"{stem}.poster.png"


def image_key(generation_id: str, position: int, lease: int) -> str:
    """Where an attempt (by its lease number) puts a generation's image at ``position``."""
    return artifact_key(generation_id, lease, position, "png")


def preview_key(attempt: Attempt, index: int) -> str:
    """Where an attempt puts its preview ``index`` (0-based), decoded while it ran."""
    return f"generations/{attempt.target}/lease-{attempt.lease}/preview-{index}.png"


def read_picture(blobs: BlobStore, key: str, what: str, mode: str = "RGB") -> Image:
    """An input picture the service stored for the job, decoded; a clear error when it is gone."""
    from PIL import Image as PILImage

    try:
        data = blobs.get(key)
    except BlobNotFound:
        raise EngineError(f"{what} is gone (deleted before the job ran)") from None
    with PILImage.open(io.BytesIO(data)) as opened:
        return opened.convert(mode)
