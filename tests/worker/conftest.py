"""A worker driven by hand, over a real database, blob directory and tiny model."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sfumato.config import Settings
from sfumato.engine import Engine
from sfumato.runtime import build_context
from sfumato.service import generations
from sfumato.service.context import Context
from sfumato.service.keys import Principal, authenticate, issue_key
from sfumato.store import queue
from sfumato.store.models import Generation, Job
from sfumato.worker.loop import Worker


@dataclass
class Bench:
    """A context, a caller, and a way to queue generations and build workers over them."""

    ctx: Context
    principal: Principal
    engine: Engine

    def submit(self, **fields: Any) -> str:
        request = {"prompt": "a red fox", "model_id": "tiny-sd15", "width": 64, "height": 64,
                   "num_images": 1, "steps": 10, "seed": 1, **fields}  # fmt: skip
        return generations.create_generation(
            self.ctx, self.principal, generations.GenerationRequest(**request)
        ).generation_id

    def worker(self, **options: Any) -> Worker:
        options = {"poll_seconds": 0.05, "lease_seconds": 30, "blobs": self.ctx.blobs, **options}
        return Worker(db=self.ctx.db, engine=self.engine, **options)

    def generation(self, generation_id: str) -> Generation:
        with self.ctx.db.read() as session:
            generation = session.get(Generation, generation_id)
            assert generation is not None
            return generation

    def job(self, generation_id: str) -> Job:
        with self.ctx.db.read() as session:
            return queue.jobs_for_generation(session, generation_id)[0]


@pytest.fixture(scope="session")
def worker_engine(models_dir: Path) -> Engine:
    """One engine for the session: loading the tiny model once keeps these tests fast."""
    from sfumato.engine import Catalog

    return Engine(Catalog.load(), models_dir, device="cpu", max_loaded=3)


@pytest.fixture
def bench(database_url: str, tmp_path: Path, worker_engine: Engine, models_dir: Path) -> Iterator[Bench]:
    settings = Settings(home=tmp_path / "home", database_url=database_url, models_dir=models_dir,
                        device="cpu", public_url="http://testserver", concurrency_slots=8)  # fmt: skip
    ctx = build_context(settings)
    issued = issue_key(ctx, username="worker-tests", credits_amount=10_000)
    principal = authenticate(ctx, f"Bearer {issued.api_key}")
    yield Bench(ctx=ctx, principal=principal, engine=worker_engine)
    ctx.db.dispose()


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Fix torch's thread count while pixels are compared: reductions then repeat exactly."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
