"""Uploaded videos, checked with suspicion before anything is kept.

Like an uploaded image (:mod:`sfumato.service.images`), a video is whatever bytes a client
sent, so nothing about it is taken on trust: the container is sniffed from the bytes'
signature and then opened with that demuxer only (FFmpeg's own probing would accept a
file of another kind), the codec must be one this server decodes, and the frame count and
duration are counted from the packets themselves rather than read from the header a file
may lie in. Counting stops as soon as a limit is passed, so an endless stream costs no
more than the limit. The first frame is decoded for real: it proves the codec data is
sound and becomes the video's thumbnail.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from fractions import Fraction

import av
from PIL import Image

from sfumato.errors import InvalidRequest

# Container → the demuxer it opens with and the codecs accepted in it.
CONTAINERS: dict[str, tuple[str, frozenset[str]]] = {
    "mp4": ("mp4", frozenset({"h264", "hevc", "av1", "vp9"})),
    "mov": ("mov", frozenset({"h264", "hevc", "av1", "vp9"})),
    "webm": ("webm", frozenset({"vp8", "vp9", "av1"})),
}
KINDS = {"mp4": "an MP4 video", "mov": "a QuickTime (MOV) video", "webm": "a WebM video"}
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE_WEBM = b"\x42\x82\x84webm"  # DocType element, 4 bytes long, "webm"


@dataclass(frozen=True)
class VideoLimits:
    max_bytes: int
    max_seconds: float
    max_frames: int
    max_pixels: int


@dataclass(frozen=True)
class ProbedVideo:
    container: str  # a key of CONTAINERS
    codec: str
    width: int
    height: int
    frame_count: int
    duration_seconds: float
    fps: float
    first_frame: Image.Image  # RGB
    sha256: str
    size_bytes: int


def sniff(data: bytes) -> str | None:
    """The container family the bytes' signature names: 'mp4' (ISO base media, which
    QuickTime .mov shares), 'webm', or None."""
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return "mp4"
    if data.startswith(_EBML_MAGIC) and _EBML_DOCTYPE_WEBM in data[:64]:
        return "webm"
    return None


def probe_video(data: bytes, container: str, limits: VideoLimits, *, what: str = "the video") -> ProbedVideo:
    """Check ``data`` is a ``container`` video within ``limits`` or raise :class:`InvalidRequest`."""
    if not data:
        raise InvalidRequest(f"{what} is empty")
    if len(data) > limits.max_bytes:
        raise InvalidRequest(f"{what} is {len(data)} bytes; at most {limits.max_bytes} are allowed")
    family = "mp4" if container == "mov" else container
    if sniff(data) != family:
        raise InvalidRequest(f"{what} is not {KINDS[container]}")
    demuxer, codecs = CONTAINERS[container]
    try:
        # A file's metadata is free text in no promised encoding: read it leniently.
        with av.open(io.BytesIO(data), mode="r", format=demuxer, metadata_errors="replace") as opened:
            if not opened.streams.video:
                raise InvalidRequest(f"{what} has no video stream")
            stream = opened.streams.video[0]
            if stream.codec_context is None:
                raise InvalidRequest(f"{what} is in a video codec this server cannot decode")
            codec = stream.codec_context.name
            if codec not in codecs:
                raise InvalidRequest(
                    f"{what} is {codec} video; the codec of {KINDS[container]} must be one of "
                    f"{', '.join(sorted(codecs))}"
                )
            width, height = stream.codec_context.width, stream.codec_context.height
            if width * height > limits.max_pixels:
                raise InvalidRequest(
                    f"{what} is {width}×{height} = {width * height} pixels a frame; "
                    f"at most {limits.max_pixels} are allowed"
                )
            first, count, span = _walk(opened, stream, limits, what)
            if first.width * first.height > limits.max_pixels:  # the header understated it
                raise InvalidRequest(f"{what} has frames of more than {limits.max_pixels} pixels")
    except av.FFmpegError as exc:
        raise InvalidRequest(f"{what} cannot be decoded as {KINDS[container]}: {exc.strerror}") from None
    rate = stream.average_rate
    fps = float(rate) if rate else (count / span if span > 0 else 0.0)
    return ProbedVideo(
        container=container,
        codec=codec,
        width=first.width,
        height=first.height,
        frame_count=count,
        duration_seconds=span,
        fps=round(fps, 3),
        first_frame=first,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
    )


def _walk(
    opened: av.container.InputContainer, stream: av.VideoStream, limits: VideoLimits, what: str
) -> tuple[Image.Image, int, float]:
    """One pass over the video's packets: the first decoded frame, the frame count and the
    playing time in seconds (first timestamp to the end of the last frame)."""
    time_base = stream.time_base or Fraction(1, 1)
    first: Image.Image | None = None
    count = 0
    start: int | None = None
    end = 0
    last_duration = 0
    for packet in opened.demux(stream):
        if packet.size == 0:  # the demuxer's closing empty packet
            continue
        count += 1
        if count > limits.max_frames:
            raise InvalidRequest(f"{what} has more than {limits.max_frames} frames")
        if packet.pts is not None:
            start = packet.pts if start is None else min(start, packet.pts)
            last_duration = packet.duration or 0
            end = max(end, packet.pts + last_duration)
            if float((end - start) * time_base) > limits.max_seconds:
                raise InvalidRequest(f"{what} is longer than {limits.max_seconds:g} seconds")
        if first is None:
            first = _first_frame(stream.decode(packet))
    if first is None:
        first = _first_frame(stream.decode(None))  # frames the decoder held back
    if first is None or count == 0:
        raise InvalidRequest(f"{what} has no decodable frames")
    span = float((end - start) * time_base) if start is not None else 0.0
    if last_duration == 0 and count > 1:  # the last frame's own length is unknown: assume the mean
        span += span / (count - 1)
    if span > limits.max_seconds:
        raise InvalidRequest(f"{what} is longer than {limits.max_seconds:g} seconds")
    return first, count, round(span, 3)


def _first_frame(frames: list[av.VideoFrame]) -> Image.Image | None:
    return frames[0].to_image().convert("RGB") if frames else None
