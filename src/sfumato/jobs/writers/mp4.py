"""MP4 videos: H.264 in yuv420p, the index (moov) before the media (``movflags=faststart``) so a
browser plays it while it downloads, and a PNG poster of the first frame beside it.

yuv420p halves the colour planes in both directions, so H.264 needs an even width and height:
odd frames are refused with an error that says so rather than silently cropped.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sfumato.blobs import BlobStore
from sfumato.engine import report
from sfumato.engine.errors import EngineError
from sfumato.jobs.artifacts import VIDEO, Artifact, poster_key
from sfumato.jobs.writers.png import store_png
from sfumato.jobs.writers.upload import upload

if TYPE_CHECKING:
    from PIL.Image import Image

MP4 = "video/mp4"
CODEC, PIXEL_FORMAT = "libx264", "yuv420p"


def store_mp4(
    blobs: BlobStore,
    key: str,
    frames: Sequence[Any],
    fps: float | Fraction,
    *,
    position: int = 0,
    seed: int | None = None,
    crf: int = 18,
) -> Artifact:
    """Encode ``frames`` (PIL images or H×W×3 uint8 arrays, one size) as an MP4 at ``fps`` and
    upload it under ``key``, with its poster (the first frame) beside it."""
    pictures = [_picture(frame) for frame in frames]
    width, height = _frame_size(pictures)
    rate = _rate(fps)
    report.stage(report.ENCODING)
    data = encode_mp4(pictures, rate, crf=crf)
    poster = store_png(blobs, poster_key(key), pictures[0], position=position, seed=seed)
    uploaded = upload(blobs, key, data, MP4)
    return Artifact(
        type=VIDEO,
        blob_key=key,
        content_type=MP4,
        size_bytes=uploaded.size_bytes,
        sha256=uploaded.sha256,
        position=position,
        seed=seed,
        width=width,
        height=height,
        duration_seconds=float(len(pictures) / rate),
        fps=float(rate),
        frame_count=len(pictures),
        poster=poster,
    )


def encode_mp4(pictures: Sequence[Image], rate: Fraction, *, crf: int = 18) -> bytes:
    """The MP4 file's bytes. The muxer rewrites the file to move its index to the front, which
    it can only do on a real file, hence the temporary directory."""
    import av

    width, height = _frame_size(pictures)
    with tempfile.TemporaryDirectory(prefix="sfumato-mp4-") as folder:
        path = Path(folder) / "video.mp4"
        with av.open(str(path), mode="w", format="mp4", options={"movflags": "faststart"}) as container:
            stream = container.add_stream(CODEC, rate=rate)
            assert isinstance(stream, av.VideoStream)
            stream.width, stream.height, stream.pix_fmt = width, height, PIXEL_FORMAT
            stream.options = {"crf": str(crf)}
            for index, picture in enumerate(pictures):
                frame = av.VideoFrame.from_image(picture.convert("RGB"))
                frame.pts, frame.time_base = index, 1 / rate
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))  # flush the frames the encoder still holds
        return path.read_bytes()


def _picture(frame: Any) -> Image:
    from PIL import Image as PILImage

    if isinstance(frame, PILImage.Image):
        return frame
    return PILImage.fromarray(frame)


def _frame_size(pictures: Sequence[Image]) -> tuple[int, int]:
    if not pictures:
        raise EngineError("a video needs at least one frame")
    sizes = {picture.size for picture in pictures}
    if len(sizes) > 1:
        raise EngineError(f"a video's frames must share one size; got {sorted(sizes)}")
    [(width, height)] = sizes
    if width % 2 or height % 2:
        raise EngineError(
            f"an H.264 video ({PIXEL_FORMAT}) needs an even width and height; the frames are "
            f"{width}x{height}: generate at an even size"
        )
    return width, height


def _rate(fps: float | Fraction) -> Fraction:
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise EngineError(f"a video's frame rate must be positive; got {fps}")
    return rate
