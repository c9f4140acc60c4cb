"""A realtime job handed to the worker of the same process is recorded in the ledger like any
job; without an in-process worker, a worker elsewhere serves the request the general way."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from sfumato.jobs.kinds import realtime as realtime_kind
from sfumato.runtime import build_worker
from sfumato.store import Database
from sfumato.store.clock import utcnow
from sfumato.store.models import Account, CreditEntry, Job, RealtimeRequest, new_id
from sfumato.worker import loop
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
        assert api.ctx.hand_offs.settled(timeout=30)  # a worker waiting for work is handed the job
        stored = _recording_puts(api.ctx.blobs)
        before = balance(api)
        response = api.post("/generations-lcm", json=_body())
        assert response.status_code == 200, response.text
        job_answer = response.json()["lcmGenerationJob"]
        picture = from_data_url(job_answer["imageDataUrl"][0])
        assert picture.size == (64, 64)
        assert api.ctx.hand_offs.settled(timeout=30)  # the answer goes out first, then the end is recorded
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
        # Nothing was stored: not the output, and not the inputs, which only a retry would read.
        assert request.input_keys and stored == []
        assert api.ctx.hand_offs.pending() == []  # nothing is left behind in memory


def _recording_puts(blobs: object) -> list[str]:
    """The keys written to ``blobs`` from now on."""
    written: list[str] = []
    put = blobs.put  # type: ignore[attr-defined]

    def recording(key: str, *args: object, **kwargs: object) -> object:
        written.append(key)
        return put(key, *args, **kwargs)

    blobs.put = recording  # type: ignore[attr-defined]
    return written


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
def test_the_lean_canvas_path_answers_as_the_route_does(
    database_url: str, tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plainly valid canvas request is served by the lean path; another JSON type goes
    through the route. Both give the same picture, cost and rate-limit headers, and both let
    the worker record the job's end once the answer is out (a waiter that never let go would
    hold the worker here for ten minutes)."""
    monkeypatch.setattr(loop, "ANSWER_SECONDS", 600.0)
    with canvas_app(database_url, tmp_path, models_dir, rate_limit_per_key="10/minute") as api:
        assert api.ctx.hand_offs is not None and api.ctx.hand_offs.settled(timeout=30)
        answers = []
        for content_type, remaining in (("application/json", "9"), ("application/vnd.api+json", "8")):
            response = api.client.post(
                "/api/rest/v1/lcm-inpainting",
                content=json.dumps({**_body(seed=9), "maskDataUrl": data_url(square_mask())}),
                headers={**api.headers(), "content-type": content_type},
            )
            assert response.status_code == 200, response.text
            assert response.headers["x-ratelimit-remaining"] == remaining
            assert api.ctx.hand_offs.settled(timeout=60)  # let go: the end is recorded now
            answers.append(response.json()["lcmGenerationJob"])
        with api.ctx.db.read() as session:
            jobs = session.scalars(select(Job)).all()
        assert [job.state for job in jobs] == ["succeeded", "succeeded"]
    assert answers[0]["apiCreditCost"] == answers[1]["apiCreditCost"] > 0
    pictures = [np.asarray(from_data_url(answer["imageDataUrl"][0])) for answer in answers]
    assert np.array_equal(pictures[0], pictures[1])


@pytest.mark.databases("sqlite")
def test_a_handed_job_gives_the_pixels_of_the_general_way(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    with canvas_app(database_url, tmp_path, models_dir) as api:
        assert api.ctx.hand_offs is not None and api.ctx.hand_offs.settled(timeout=30)
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


@pytest.mark.databases("sqlite", "postgresql")
def test_a_refused_handed_job_leaves_nothing_and_the_worker_goes_on(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    """The worker starts before the admission commits; a refusal drops its run unrecorded."""
    with canvas_app(database_url, tmp_path, models_dir) as api:
        assert api.ctx.hand_offs is not None and api.ctx.hand_offs.settled(timeout=30)
        pauper, _ = api.new_key("pauper", credits=0)
        refused = api.post("/generations-lcm", json=_body(), key=pauper)
        assert refused.status_code == 402, refused.text
        assert api.ctx.hand_offs.settled(timeout=30)
        with api.ctx.db.read() as session:
            assert session.scalars(select(Job)).all() == []
            assert session.scalars(select(RealtimeRequest)).all() == []
        served = api.post("/generations-lcm", json=_body())
        assert served.status_code == 200, served.text
        assert api.ctx.hand_offs.settled(timeout=30)
        request, job, _entries = _ledger(api.ctx.db)
        assert (request.status, job.state, job.attempts) == ("COMPLETE", "succeeded", 1)


@pytest.mark.databases("sqlite", "postgresql")
def test_a_handed_job_respects_the_accounts_concurrency_cap(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    """An account that runs all it may gets its job queued, not leased: it waits its turn."""
    with canvas_app(database_url, tmp_path, models_dir, realtime_timeout_seconds=1.0) as api:
        assert api.ctx.hand_offs is not None and api.ctx.hand_offs.settled(timeout=30)
        with api.ctx.db.transaction() as session:
            account = session.get(Account, api.user_id)
            assert account is not None
            account.concurrency_slots = 1
            session.add(Job(id=new_id(), kind="realtime_canvas", account_id=api.user_id, payload={},
                            state="running", lease_owner="elsewhere", attempts=1, leases=1,
                            lease_expires_at=utcnow() + timedelta(hours=1)))  # fmt: skip
        before = balance(api)
        response = api.post("/generations-lcm", json=_body())
        assert response.status_code == 504, response.text  # its turn never came within the timeout
        assert balance(api) == before
        with api.ctx.db.read() as session:
            [request] = session.scalars(select(RealtimeRequest)).all()
            [job] = session.scalars(select(Job).where(Job.subject_id == request.id)).all()
            assert (request.status, job.state, job.attempts) == ("ABANDONED", "cancelled", 0)


@pytest.mark.databases("sqlite", "postgresql")
def test_a_job_queued_at_the_accounts_cap_has_its_pictures_and_runs_when_a_slot_frees(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    """Not leased, the job waits in the queue for any worker: its pictures are stored first."""
    with canvas_app(database_url, tmp_path, models_dir) as api:
        assert api.ctx.hand_offs is not None and api.ctx.hand_offs.settled(timeout=30)
        blocker = new_id()
        with api.ctx.db.transaction() as session:
            account = session.get(Account, api.user_id)
            assert account is not None
            account.concurrency_slots = 1
            session.add(Job(id=blocker, kind="realtime_canvas", account_id=api.user_id, payload={},
                            state="running", lease_owner="elsewhere", attempts=1, leases=1,
                            lease_expires_at=utcnow() + timedelta(hours=1)))  # fmt: skip
        answers: list[object] = []
        waiting = threading.Thread(target=lambda: answers.append(api.post("/generations-lcm", json=_body())))
        waiting.start()
        queued = threading.Event()
        for _ in range(600):  # until the request is recorded, its job queued
            with api.ctx.db.read() as session:
                jobs = session.scalars(select(Job).where(Job.id != blocker)).all()
                if jobs and jobs[0].state == "queued":
                    request = session.scalars(select(RealtimeRequest)).one()
                    break
            queued.wait(0.05)
        else:
            raise AssertionError("the request's job was never queued")
        assert all(api.ctx.blobs.exists(key) for key in request.input_keys.values())
        with api.ctx.db.transaction() as session:  # the running job ends: a slot is free
            running = session.get(Job, blocker)
            assert running is not None
            running.state, running.lease_owner = "succeeded", None
        waiting.join(timeout=60)
        [response] = answers
        assert response.status_code == 200, response.text  # type: ignore[attr-defined]
        request, job, entries = _ledger(api.ctx.db)
        assert (request.status, job.state, job.attempts) == ("COMPLETE", "succeeded", 1)
        assert len(entries) == 1


@pytest.mark.databases("sqlite")
def test_a_failed_handed_run_is_retried_the_general_way(
    database_url: str, tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker stores the pictures before the failure is recorded: the retry reads them
    like any worker's would."""
    failures = []

    def fail_once(*args: object, **kwargs: object) -> object:
        failures.append(1)
        raise RuntimeError("the device went away")

    monkeypatch.setattr(realtime_kind, "run_in_memory", fail_once)
    with canvas_app(database_url, tmp_path, models_dir) as api:
        assert api.ctx.hand_offs is not None and api.ctx.hand_offs.settled(timeout=30)
        response = api.post("/generations-lcm", json=_body())
        assert response.status_code == 200, response.text
        request, job, entries = _ledger(api.ctx.db)
    assert failures == [1]
    assert (request.status, job.state, job.attempts) == ("COMPLETE", "succeeded", 2)
    assert request.output_key is not None and len(entries) == 1  # the general way, charged once
