"""A realtime job handed to the worker of the same process is recorded in the ledger like any
job; without an in-process worker, a worker elsewhere serves the request the general way."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from sfumato.runtime import build_worker
from sfumato.store import Database
from sfumato.store.models import CreditEntry, Job, RealtimeRequest
from tests.api.canvas import balance, canvas_app, data_url, from_data_url, noise, square_mask


def _body(seed: int = 5) -> dict[str, object]:
    return {
        "imageDataUrl": data_url(noise()),
        "prompt": "a lighthouse",
        "width": 64,
        "height": 64,
        "seed": seed,
    }


def _ledger(db: Database) -> tuple[RealtimeRequest, Job, list[CreditEntry]]:
    with db.read() as session:
        [request] = session.scalars(select(RealtimeRequest)).all()
        [job] = session.scalars(select(Job).where(Job.subject_id == request.id)).all()
        entries = list(session.scalars(select(CreditEntry).where(CreditEntry.subject_id == request.id)))
        return request, job, entries


@pytest.mark.databases("sqlite")
def test_a_handed_job_is_recorded_in_the_ledger_and_its_output_never_stored(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    with canvas_app(database_url, tmp_path, models_dir) as api:
        assert api.ctx.hand_offs is not None
        before = balance(api)
        response = api.post("/generations-lcm", json=_body())
        assert response.status_code == 200, response.text
        job_answer = response.json()["lcmGenerationJob"]
        picture = from_data_url(job_answer["imageDataUrl"][0])
        assert picture.size == (64, 64)
        request, job, entries = _ledger(api.ctx.db)
        # The request, its charge, its job and its end, as for any worker.
        assert request.status == "COMPLETE" and request.finished_at is not None
        assert request.output_key is None  # handed back in memory: no output blob
        assert request.lineage is not None and request.lineage["attempts"] == 1
        assert (job.state, job.attempts, job.leases, job.lease_owner) == ("succeeded", 1, 1, None)
        assert job.subject_id == request.id and job.finished_at is not None
        assert [(e.kind, e.amount, e.subject_kind) for e in entries] == [
            ("debit", -job_answer["apiCreditCost"], "realtime")
        ]
        assert balance(api) == before - job_answer["apiCreditCost"]
        # The inputs were stored for any worker, and go once the answer is out.
        keys = list(request.input_keys.values())
        deadline = threading.Event()
        for _ in range(100):
            if not any(api.ctx.blobs.exists(key) for key in keys):
                break
            deadline.wait(0.05)
        assert keys and not any(api.ctx.blobs.exists(key) for key in keys)
        assert api.ctx.hand_offs.to_claim() == []  # nothing is left behind in memory


@pytest.mark.databases("sqlite")
def test_a_worker_elsewhere_serves_realtime_requests(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    with canvas_app(database_url, tmp_path, models_dir, with_worker=False) as api:
        assert api.ctx.hand_offs is None
        elsewhere = Database(database_url)  # a connection pool of its own, as another process's
        worker = build_worker(api.ctx)
        worker.db, worker.poll_seconds = elsewhere, 0.02
        thread = threading.Thread(target=worker.run_forever, daemon=True)
        thread.start()
        try:
            response = api.post("/generations-lcm", json=_body())
        finally:
            worker.stop()
            thread.join(timeout=30)
            elsewhere.dispose()
        assert response.status_code == 200, response.text
        request, job, entries = _ledger(api.ctx.db)
        assert request.status == "COMPLETE" and job.state == "succeeded" and len(entries) == 1
        assert request.output_key is not None  # the general way: through blob storage
        assert not api.ctx.blobs.exists(request.output_key)  # read, then deleted


@pytest.mark.databases("sqlite")
def test_a_handed_job_gives_the_pixels_of_the_general_way(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    with canvas_app(database_url, tmp_path, models_dir) as api:
        handed = api.post("/lcm-inpainting", json={**_body(seed=9), "maskDataUrl": data_url(square_mask())})
        hand_offs, api.ctx.hand_offs = api.ctx.hand_offs, None  # the same worker, through the queue
        try:
            general = api.post(
                "/lcm-inpainting", json={**_body(seed=9), "maskDataUrl": data_url(square_mask())}
            )
        finally:
            api.ctx.hand_offs = hand_offs
        assert handed.status_code == general.status_code == 200, (handed.text, general.text)
        with api.ctx.db.read() as session:
            keys = [
                r.output_key
                for r in session.scalars(select(RealtimeRequest).order_by(RealtimeRequest.created_at))
            ]
        assert keys[0] is None and keys[1] is not None
    pictures = [
        np.asarray(from_data_url(r.json()["lcmGenerationJob"]["imageDataUrl"][0])) for r in (handed, general)
    ]
    assert np.array_equal(pictures[0], pictures[1])
