"""The official Leonardo TypeScript SDK (npm ``@leonardo-ai/sdk``), unchanged, against a live
`sfumato serve`: its Media resource, which the Python SDK lacks.

The SDK is installed into ``tests/ts`` with ``npm ci`` from the committed lock file the
first time it is needed (or when the lock names another version). Without Node 20+ and npm
the test is skipped, saying why — except under CI (``CI`` set), where it fails: a CI run
that quietly skipped it would pass without testing the SDK.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.api.media_files import video
from tests.api.uploading import noise_png
from tests.e2e.conftest import Processes

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[1] / "ts"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so the TypeScript SDK test may not be skipped")
    pytest.skip(reason)


def _installed_versions() -> dict[str, str | None]:
    """What ``node_modules`` holds of each package the lock file installs at the top level."""
    versions: dict[str, str | None] = {}
    for name in _locked_versions():
        manifest = PROJECT / "node_modules" / name / "package.json"
        versions[name] = str(json.loads(manifest.read_text())["version"]) if manifest.is_file() else None
    return versions


def _locked_versions() -> dict[str, str]:
    """The SDK and TypeScript (which strips the studio's snippets' types), as the lock names them."""
    lock = json.loads((PROJECT / "package-lock.json").read_text())
    wanted = lock["packages"][""]["dependencies"]
    return {name: str(lock["packages"][f"node_modules/{name}"]["version"]) for name in wanted}


@pytest.fixture(scope="session")
def node() -> str:
    """The ``node`` to run SDK scripts with, the SDK (and TypeScript) installed beside them."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm are needed for the TypeScript SDK test and are not on PATH")
    assert node is not None and npm is not None
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 20:
        _unavailable(f"the TypeScript SDK test needs Node 20 or newer, not {version}")
    with open(PROJECT / ".install.lock", "w") as lock:  # one npm ci at a time across test workers
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed_versions() != _locked_versions():
            command = [npm, "ci", "--no-audit", "--no-fund"]
            result = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, timeout=600)
            if result.returncode != 0:
                _unavailable(f"npm ci in {PROJECT} failed:\n{result.stderr[-2000:]}")
    return node


def test_typescript_sdk_media_round_trip(node: str, processes: Processes, tmp_path: Path) -> None:
    base = processes.serve()
    issued = processes.new_key("ts-sdk-user")
    image, clip = noise_png((96, 64), seed=3), video("mp4", frames=12, fps=8, size=(80, 48))
    (tmp_path / "image.png").write_bytes(image)
    (tmp_path / "clip.mp4").write_bytes(clip)
    env = {**os.environ, "SFUMATO_URL": base, "SFUMATO_KEY": issued["apiKey"],
           "IMAGE_FILE": str(tmp_path / "image.png"), "VIDEO_FILE": str(tmp_path / "clip.mp4")}  # fmt: skip
    result = subprocess.run(
        [node, str(PROJECT / "media.mjs")], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300
    )
    server_log = processes.log(f"serve-{base.rsplit(':', 1)[1]}")
    assert result.returncode == 0, result.stderr[:3000] + server_log[-3000:]
    report = json.loads(result.stdout)

    assert report["uploads"] == {"image": 204, "video": 204, "refused": 400}
    image_media, video_media, refused = report["image"], report["video"], report["refused"]
    assert image_media["status"] == "COMPLETE" and image_media["mediaType"] == "IMAGE"
    assert (image_media["width"], image_media["height"]) == (96, 64)
    assert image_media["fileSha256"] == hashlib.sha256(image).hexdigest() and image_media["thumbnailFound"]
    assert video_media["status"] == "COMPLETE" and video_media["mediaType"] == "VIDEO"
    assert (video_media["width"], video_media["height"]) == (80, 48)
    assert video_media["videoFps"] == pytest.approx(8)
    assert video_media["duration"] == pytest.approx(1.5, abs=0.01)
    assert video_media["fileSha256"] == hashlib.sha256(clip).hexdigest() and video_media["thumbnailFound"]
    assert refused["status"] == "PENDING" and refused["fileSha256"] is None
    assert "not an MP4 video" in refused["statusReason"]

    assert report["generation"] == {"status": "COMPLETE", "images": 1}  # the media image as init image
    assert report["deleted"] == {"id": report["videoId"]}
    assert report["afterDelete"] == 404 and report["unknown"] == 404
