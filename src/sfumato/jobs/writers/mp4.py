"""MP4 videos: H.264 in yuv420p, the index (moov) before the media (``movflags=faststart``) so a
browser plays it while it downloads, and a PNG poster of the first frame beside it.

yuv420p halves the colour planes in both directions, so H.264 needs an even width and height:
odd frames are refused with an error that says so rather than silently cropped.

Frames go to the encoder one at a time (:class:`Mp4Encoder`, :func:`store_streamed_mp4`): a
video job hands each frame over as it is decoded, so only the compressed stream and the poster
are kept, never the clip's frames.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from types import TracebackType
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
# x264's "veryfast" preset: a few times faster than its default at a slightly larger file for the
# same quality (crf); at the default, encoding took longer than drawing a small clip.
PRESET = "veryfast"


FrameSink = Callable[[Any], None]


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

    def produce(sink: FrameSink) -> None:
        for frame in frames:
            sink(frame)

    return store_streamed_mp4(blobs, key, produce, fps, position=position, seed=seed, crf=crf)


def store_streamed_mp4(
    blobs: BlobStore,
    key: str,
    produce: Callable[[FrameSink], object],
    fps: float | Fraction,
    *,
    position: int = 0,
    seed: int | None = None,
    crf: int = 18,
    with_poster: bool = True,
) -> Artifact:
    """Run ``produce`` with a sink that encodes each frame it is handed, then upload the MP4
    under ``key`` and (``with_poster``) the poster, its first frame, beside it."""
    with Mp4Encoder(fps, crf=crf) as encoder:
        produce(encoder.add)
        data = encoder.finish()
    poster_image = encoder.poster
    assert poster_image is not None  # finish() refuses a video without frames
    poster = (
        store_png(blobs, poster_key(key), poster_image, position=position, seed=seed) if with_poster else None
    )
    uploaded = upload(blobs, key, data, MP4)
    return Artifact(
        type=VIDEO,
        blob_key=key,
        content_type=MP4,
        size_bytes=uploaded.size_bytes,
        sha256=uploaded.sha256,
        position=position,
        seed=seed,
        width=encoder.width,
        height=encoder.height,
        duration_seconds=float(encoder.frames / encoder.rate),
        fps=float(encoder.rate),
        frame_count=encoder.frames,
        poster=poster,
    )


def encode_mp4(pictures: Sequence[Image], rate: Fraction, *, crf: int = 18) -> bytes:
    """The MP4 file's bytes for ``pictures``, encoded at once."""
    with Mp4Encoder(rate, crf=crf) as encoder:
        for picture in pictures:
            encoder.add(picture)
        return encoder.finish()


class Mp4Encoder:
    """An H.264 MP4 written one frame at a time; the first frame sets the size.

    The muxer rewrites the file to move its index to the front, which it can only do on a
    real file, hence the temporary directory (removed on exit).
    """

    def __init__(self, fps: float | Fraction, *, crf: int = 18) -> None:
        self.rate = _rate(fps)
        self.crf = crf
        self.frames = 0
        self.width = self.height = 0
        self.poster: Image | None = None
        self._folder = tempfile.TemporaryDirectory(prefix="sfumato-mp4-")
        self._path = Path(self._folder.name) / "video.mp4"
        self._container: Any = None
        self._stream: Any = None

    def __enter__(self) -> Mp4Encoder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
        self._folder.cleanup()

    def add(self, frame: Any) -> None:
        """Encode one frame (a PIL image or an H×W×3 uint8 array) after those already added."""
        import av

        picture = _picture(frame).convert("RGB")
        if self._container is None:
            self._open(*_frame_size([picture]))
            self.poster = picture
        elif picture.size != (self.width, self.height):
            raise EngineError(
                f"a video's frames must share one size; got {picture.size} after {(self.width, self.height)}"
            )
        video_frame = av.VideoFrame.from_image(picture)
        video_frame.pts, video_frame.time_base = self.frames, 1 / self.rate
        self._container.mux(self._stream.encode(video_frame))
        self.frames += 1

    def finish(self) -> bytes:
        """Flush the encoder, close the file and return its bytes."""
        if self._container is None:
            raise EngineError("a video needs at least one frame")
        report.stage(report.ENCODING)
        self._container.mux(self._stream.encode(None))  # flush the frames the encoder still holds
        self._container.close()
        self._container = None
        return self._path.read_bytes()

    def _open(self, width: int, height: int) -> None:
        import av

        self.width, self.height = width, height
        self._container = av.open(str(self._path), mode="w", format="mp4", options={"movflags": "faststart"})
        stream = self._container.add_stream(CODEC, rate=self.rate)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, PIXEL_FORMAT
        stream.options = {"crf": str(self.crf), "preset": PRESET}
        self._stream = stream


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


def read_mp4_frames(data: bytes) -> Iterator[Any]:
    """The frames of an MP4's first video stream, one H×W×3 uint8 array at a time (decoded as
    they are asked for: a clip being upscaled is never held whole)."""
    import av

    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            yield frame.to_ndarray(format="rgb24")
