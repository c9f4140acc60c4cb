"""Artifact writers: what they upload is what their records say, for every artifact type."""

from __future__ import annotations

import hashlib
import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sfumato.blobs.local import LocalBlobStore
from sfumato.blobs.signing import UrlSigner
from sfumato.engine.errors import EngineError
from sfumato.jobs.artifacts import Attempt, artifact_key, image_key, poster_key
from sfumato.jobs.writers import store_file, store_generation_images, store_mp4, store_png


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs", public_url="http://testserver", signer=UrlSigner(b"k", 60))


def _frames(count: int, width: int, height: int) -> list[Image.Image]:
    """Frames that differ (a bar that moves), so the encoder has motion to code."""
    frames = []
    for index in range(count):
        pixels = np.zeros((height, width, 3), dtype=np.uint8)
        pixels[:, (index * 4) % width :, 0] = 200
        pixels[: height // 2, :, 2] = 40 * (index % 6)
        frames.append(Image.fromarray(pixels))
    return frames


def _top_level_boxes(data: bytes) -> list[str]:
    """The MP4's top-level box types, in file order."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        boxes.append(kind.decode("ascii"))
        offset += size if size else len(data)
    return boxes


def test_the_png_writer_records_the_blobs_length_and_hash(blobs: LocalBlobStore) -> None:
    image = Image.new("RGB", (48, 32), (10, 200, 30))
    artifact = store_png(blobs, image_key("g1", 0, 1), image, position=0, seed=7)
    data = blobs.get(artifact.blob_key)
    assert artifact.type == "image" and artifact.content_type == "image/png"
    assert artifact.size_bytes == len(data) > 0
    assert artifact.sha256 == hashlib.sha256(data).hexdigest()
    assert (artifact.width, artifact.height, artifact.seed) == (48, 32, 7)


def test_a_generations_images_go_under_the_attempts_own_keys(blobs: LocalBlobStore) -> None:
    images = [Image.new("RGB", (8, 8), (i, i, i)) for i in range(2)]
    artifacts = store_generation_images(blobs, Attempt("g2", 3), images, [11, 12])
    assert [a.blob_key for a in artifacts] == ["generations/g2/lease-3/0.png", "generations/g2/lease-3/1.png"]
    assert [(a.position, a.seed) for a in artifacts] == [(0, 11), (1, 12)]


def test_the_mp4_writer_makes_a_streamable_h264_video_with_a_poster(blobs: LocalBlobStore) -> None:
    import av

    key = artifact_key("g3", 2, 0, "mp4")
    frames = _frames(12, 64, 48)
    artifact = store_mp4(blobs, key, frames, fps=8, seed=5)

    data = blobs.get(key)
    assert artifact.type == "video" and artifact.content_type == "video/mp4"
    assert artifact.size_bytes == len(data) and artifact.sha256 == hashlib.sha256(data).hexdigest()
    assert (artifact.width, artifact.height, artifact.frame_count, artifact.fps) == (64, 48, 12, 8.0)
    assert artifact.duration_seconds == pytest.approx(1.5)

    boxes = _top_level_boxes(data)
    assert boxes.index("moov") < boxes.index("mdat"), boxes  # faststart: the index comes first

    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.codec_context.width, stream.codec_context.height) == (64, 48)
        assert stream.average_rate == 8
        decoded = list(container.decode(stream))
    assert len(decoded) == 12

    poster = artifact.poster
    assert poster is not None and poster.blob_key == poster_key(key) == "generations/g3/lease-2/0.poster.png"
    assert poster.type == "image" and (poster.width, poster.height) == (64, 48)
    assert poster.size_bytes == len(blobs.get(poster.blob_key))
    assert artifact.blob_keys == [key, poster.blob_key]


def test_the_mp4_writer_takes_arrays_and_fractional_rates(blobs: LocalBlobStore) -> None:
    frames = [np.asarray(frame) for frame in _frames(5, 32, 32)]
    artifact = store_mp4(blobs, "videos/x/lease-1/0.mp4", frames, fps=24000 / 1001)
    assert artifact.frame_count == 5
    assert artifact.fps == pytest.approx(23.976, abs=1e-3)


@pytest.mark.parametrize("size", [(63, 48), (64, 47)])
def test_odd_sizes_are_refused_with_a_clear_error(blobs: LocalBlobStore, size: tuple[int, int]) -> None:
    with pytest.raises(EngineError, match="even width and height"):
        store_mp4(blobs, "videos/x/lease-1/0.mp4", _frames(3, *size), fps=8)
    assert not blobs.exists("videos/x/lease-1/0.mp4")


def test_a_video_needs_frames_of_one_size(blobs: LocalBlobStore) -> None:
    with pytest.raises(EngineError, match="at least one frame"):
        store_mp4(blobs, "videos/x/lease-1/0.mp4", [], fps=8)
    with pytest.raises(EngineError, match="one size"):
        store_mp4(blobs, "videos/x/lease-1/0.mp4", _frames(1, 32, 32) + _frames(1, 16, 16), fps=8)


@pytest.mark.parametrize(
    ("name", "artifact_type", "content_type"),
    [
        ("lora.safetensors", "weights", "application/octet-stream"),
        ("model.glb", "mesh", "model/gltf-binary"),
        ("model.obj", "mesh", "model/obj"),
    ],
)
def test_an_opaque_files_record_has_its_content_type_and_size(
    blobs: LocalBlobStore, name: str, artifact_type: str, content_type: str
) -> None:
    data = b"\x00\x01opaque bytes" * 100
    artifact = store_file(blobs, f"trainings/t1/lease-1/{name}", data, position=2)
    assert (artifact.type, artifact.content_type) == (artifact_type, content_type)
    assert artifact.size_bytes == len(data) == len(blobs.get(artifact.blob_key))
    assert artifact.sha256 == hashlib.sha256(data).hexdigest()
    assert artifact.position == 2 and artifact.width is None


def test_a_file_of_an_unknown_type_is_refused(blobs: LocalBlobStore) -> None:
    with pytest.raises(EngineError, match=r"\.safetensors"):
        store_file(blobs, "trainings/t1/lease-1/notes.txt", b"hi")


def test_the_mp4_writer_reports_encoding_then_uploading(blobs: LocalBlobStore) -> None:
    from sfumato.engine import report

    stages: list[str] = []
    with report.reporting(lambda stage, _step, _total: stages.append(stage)):
        store_mp4(blobs, "videos/x/lease-1/0.mp4", _frames(2, 16, 16), fps=4)
    assert stages[0] == "encoding" and set(stages[1:]) == {"uploading"}
