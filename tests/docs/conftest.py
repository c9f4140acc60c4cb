"""One live sfumato for the documentation's examples: the API and a worker in this process
(uvicorn on a free loopback port), the tiny models, SQLite and a local blob directory."""

from __future__ import annotations

import io
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from PIL import Image

from sfumato.app import create_app
from sfumato.config import Settings
from sfumato.runtime import build_context
from sfumato.service.keys import issue_key
from sfumato.store.migrate import upgrade
from tests.api.media_files import video
from tests.api.uploading import noise_png
from tests.docs.recorder import Recorder

# What the examples' server runs in place of the real models: every example asks for
# small pictures and short clips of the tiny, offline models.
TINY = {
    "model_aliases": {"MOTION2": "tiny-ltx-video", "MOTION2FAST": "tiny-ltx-video", "VEO3": "tiny-wan"},
    "svd_model": "tiny-svd",
    "realtime_model": "tiny-lcm",
    "realtime_warm": False,
    "upscaler": "tiny-esrgan",
    "segmenter": "tiny-mask2former",
    "safety_model": "",
    "openai_models": {
        "dall-e-2": "tiny-sd15",
        "dall-e-3": "tiny-sdxl",
        "gpt-image-1": "tiny-sdxl",
        "gpt-image-1-mini": "tiny-sd-turbo",
    },
    "openai_video_models": {"sora-2": "tiny-ltx-video", "sora-2-pro": "tiny-wan"},
    "webhook_allow_hosts": "127.0.0.1",
    "training_base_models": {"v1_5": "tiny-sd15", "FLUX_DEV": "tiny-sd15"},
    "training_max_steps": 8,
    "training_suite": ["{instance}"],  # the webhook example's receiver listens on loopback
    "texture_model": "tiny-depth-controlnet",
    "texture_size": 64,
    "texture_view_size": 64,
}


@dataclass(frozen=True)
class LiveServer:
    url: str
    key: str
    env: dict[str, str]  # what an example runs with: the URL, the key, the server's settings
    workdir: Path  # where examples run, with photo.png, mask.png and clip.mp4 in it
    recorder: Recorder  # the first answer of each operation, for the OpenAPI document's examples


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _files(workdir: Path) -> None:
    (workdir / "photo.png").write_bytes(noise_png((64, 64), seed=1))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))  # white: repaint
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    (workdir / "mask.png").write_bytes(buffer.getvalue())
    (workdir / "clip.mp4").write_bytes(video("mp4", frames=8, fps=8, size=(64, 48)))


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("docs-server")
    database_url = f"sqlite:///{home / 'sfumato.db'}"
    upgrade(database_url)
    port = _free_port()
    origin = f"http://127.0.0.1:{port}"
    settings = Settings(
        home=home, database_url=database_url, models_dir=models_dir, device="cpu", poll_seconds=0.05,
        public_url=origin, port=port, **TINY,
    )  # fmt: skip
    ctx = build_context(settings)
    key = issue_key(ctx, username="docs", credits_amount=1_000_000).api_key
    recorder = Recorder(create_app(settings, context=ctx))
    server = uvicorn.Server(uvicorn.Config(recorder, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="docs-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the docs' server did not start"
        time.sleep(0.02)
    workdir = tmp_path_factory.mktemp("docs-examples")
    _files(workdir)
    bin_dir = str(Path(sys.executable).parent)
    env = {
        "SFUMATO_URL": origin,
        "SFUMATO_API_KEY": key,
        # the CLI, as an operator on the server's machine runs it
        "SFUMATO_HOME": str(home),
        "SFUMATO_DATABASE_URL": database_url,
        "SFUMATO_MODELS_DIR": str(models_dir),
        "SFUMATO_WEBHOOK_ALLOW_HOSTS": TINY["webhook_allow_hosts"],
        "PATH": bin_dir,
    }
    yield LiveServer(origin, key, env, workdir, recorder)
    server.should_exit = True
    thread.join(timeout=30)
