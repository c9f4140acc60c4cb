"""The floor ``sfumato bench submit`` is measured against: a bare FastAPI endpoint.

``POST /api/rest/v1/generations`` validates the request body with the very model sfumato's
route uses (:class:`~sfumato.api.schemas.generations.CreateGenerationBody`) and answers
a created job of the same shape, with nothing else: no key, no rate limit, no database.
It is served the way ``sfumato serve`` serves the API (uvicorn, one process, the same
event loop and HTTP parser, no access log), so the ratio of the two is what sfumato's
controls and its recording cost on top of the framework itself.

Run it as ``python -m sfumato.bench.floor PORT``.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from sfumato.api.schemas.generations import CreateGenerationBody, created_job
from sfumato.bench.harness import free_port, stop, wait_ready

PATH = "/api/rest/v1/generations"


def floor_app() -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None)

    @app.post(PATH)
    async def create_generation(body: CreateGenerationBody) -> dict[str, Any]:
        return created_job(str(body.seed), 1)

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ok"}

    return app


@contextlib.contextmanager
def serve_floor(home: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """The floor in a process of its own on loopback, once it answers: its port and process."""
    port = free_port()
    log = home / f"floor-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "sfumato.bench.floor", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_ready(process, f"http://127.0.0.1:{port}", log)
        yield port, process
    finally:
        stop(process)


def main(port: int) -> None:
    import uvicorn

    app = floor_app()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", log_config=None, access_log=False)


if __name__ == "__main__":
    main(int(sys.argv[1]))
