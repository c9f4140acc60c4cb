"""Checking uploaded videos: the container from the bytes, packets counted, limits, no crashes."""

from __future__ import annotations

import io
import random

import av
import numpy as np
import pytest

from sfumato.errors import InvalidRequest
from sfumato.service.video_files import ProbedVideo, VideoLimits, probe_video, sniff
from tests.api.media_files import video

LIMITS = VideoLimits(max_bytes=10**7, max_seconds=30, max_frames=900, max_pixels=1920 * 1080)


@pytest.mark.parametrize(("container", "codec"), [("mp4", "h264"), ("mov", "h264"), ("webm", "vp9")])
def test_what_a_clean_clip_is(container: str, codec: str) -> None:
    data = video(container, frames=15, fps=6, size=(48, 32), first=(20, 200, 20))
    probed = probe_video(data, container, LIMITS)
    assert (probed.codec, probed.width, probed.height, probed.frame_count) == (codec, 48, 32, 15)
    assert probed.fps == pytest.approx(6) and probed.duration_seconds == pytest.approx(2.5, abs=0.01)
    red, green, blue = np.asarray(probed.first_frame, dtype=np.float64).mean(axis=(0, 1))
    assert green > 150 and red < 80 and blue < 80


def test_the_container_comes_from_the_bytes() -> None:
    assert sniff(video("mp4")) == sniff(video("mov")) == "mp4"
    assert sniff(video("webm")) == "webm"
    assert sniff(b"\x89PNG\r\n\x1a\n" + bytes(64)) is None
    assert probe_video(video("mov"), "mp4", LIMITS).codec == "h264"  # QuickTime is ISO media too
    with pytest.raises(InvalidRequest, match="not a WebM video"):
        probe_video(video("mp4"), "webm", LIMITS)


def test_limits_stop_the_count_early() -> None:
    data = video("webm", frames=40, fps=10)
    with pytest.raises(InvalidRequest, match="more than 12 frames"):
        probe_video(data, "webm", VideoLimits(10**7, 30, 12, 10**6))
    with pytest.raises(InvalidRequest, match=r"longer than 2\.5 seconds"):
        probe_video(data, "webm", VideoLimits(10**7, 2.5, 900, 10**6))
    with pytest.raises(InvalidRequest, match="pixels a frame"):
        probe_video(data, "webm", VideoLimits(10**7, 30, 900, 64 * 47))
    with pytest.raises(InvalidRequest, match="at most 100 are allowed"):
        probe_video(data, "webm", VideoLimits(100, 30, 900, 10**6))
    assert probe_video(data, "webm", VideoLimits(len(data), 4.0, 40, 64 * 48)).frame_count == 40


def test_streams_and_codecs_refused() -> None:
    audio = io.BytesIO()
    with av.open(audio, mode="w", format="mp4") as output:
        stream = output.add_stream("aac", rate=16000)
        for _ in range(4):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate = 16000
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    with pytest.raises(InvalidRequest, match="no video stream"):
        probe_video(audio.getvalue(), "mp4", LIMITS)
    mjpeg = io.BytesIO()
    with av.open(mjpeg, mode="w", format="mov") as output:
        stream = output.add_stream("mjpeg", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuvj420p"
        black = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
        for packet in stream.encode(black):
            output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    with pytest.raises(InvalidRequest, match="mjpeg video"):
        probe_video(mjpeg.getvalue(), "mov", LIMITS)


@pytest.mark.parametrize("container", ["mp4", "webm"])
def test_damaged_files_are_refused_or_read_never_crash(container: str) -> None:
    """Bytes flipped anywhere past the signature: every outcome is a clip or a 400, not a 500."""
    data = video(container, frames=20)
    rng = random.Random(container)
    outcomes = {"read": 0, "refused": 0}
    for _ in range(150):
        damaged = bytearray(data)
        for _ in range(rng.choice([1, 5, 20, 60])):
            damaged[rng.randrange(8, len(damaged))] = rng.randrange(256)
        try:
            assert isinstance(probe_video(bytes(damaged), container, LIMITS), ProbedVideo)
            outcomes["read"] += 1
        except InvalidRequest:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0  # the damage was real
