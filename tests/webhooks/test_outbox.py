"""The outbox row commits with the job's terminal state, on every path to it, and only then."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sfumato.runtime import build_context
from sfumato.service.context import Context
from sfumato.service.generations import GenerationRequest, create_generation
from sfumato.service.keys import Principal, issue_key
from sfumato.store import queue
from sfumato.store.clock import utcnow
from sfumato.store.models import Job, WebhookDelivery
from sfumato.worker import outcomes
from tests.api.conftest import make_settings


@pytest.fixture
def ctx(database_url: str, tmp_path: Path, models_dir: Path) -> Iterator[Context]:
    settings = make_settings(database_url, tmp_path, models_dir, webhook_allow_hosts="127.0.0.1")
    context = build_context(settings)
    yield context
    context.db.dispose()


def _job(ctx: Context, *, webhook: bool = True, max_attempts: int = 3) -> tuple[str, str]:
    issued = issue_key(ctx, username="olga", webhook_url="http://127.0.0.1:9/hook" if webhook else None)
    principal = Principal(account_id=issued.user_id, api_key_id=issued.api_key_id, username="olga")
    request = GenerationRequest(prompt="a fox", model_id="tiny-sd15", width=64, height=64, num_images=1)
    created = create_generation(ctx, principal, request)
    with ctx.db.transaction() as session:
        job = session.scalars(select(Job).where(Job.generation_id == created.generation_id)).one()
        job.max_attempts = max_attempts
        (claimed,) = queue.claim_batch(session, worker_id="w1", lease_seconds=60)
    return created.generation_id, claimed.id


def _events(ctx: Context) -> list[tuple[str, str | None]]:
    with ctx.db.read() as session:
        return [(d.event_type, d.subject_id) for d in session.scalars(select(WebhookDelivery))]


def test_completion_writes_one_complete_event(ctx: Context) -> None:
    generation_id, job_id = _job(ctx)
    assert _events(ctx) == []
    result = outcomes.complete(ctx.db, job_id=job_id, worker_id="w1", artifacts=[], lineage={})
    assert result is outcomes.Completion.RECORDED
    assert _events(ctx) == [("image_generation.complete", generation_id)]
    # a stale worker's late completion records nothing, and no second event
    assert outcomes.complete(ctx.db, job_id=job_id, worker_id="w1", artifacts=[], lineage={}) is not (
        outcomes.Completion.RECORDED
    )
    assert len(_events(ctx)) == 1


def test_only_the_final_failure_writes_an_event(ctx: Context) -> None:
    generation_id, job_id = _job(ctx, max_attempts=2)
    assert outcomes.fail(ctx.db, job_id=job_id, worker_id="w1", reason="oom", retry=True)
    assert _events(ctx) == []  # requeued, not ended
    with ctx.db.transaction() as session:
        (claimed,) = queue.claim_batch(session, worker_id="w2", lease_seconds=60)
    assert outcomes.fail(ctx.db, job_id=claimed.id, worker_id="w2", reason="oom again", retry=True)
    assert _events(ctx) == [("image_generation.failed", generation_id)]


def test_a_lease_that_runs_out_on_the_last_attempt_writes_a_failed_event(ctx: Context) -> None:
    generation_id, job_id = _job(ctx, max_attempts=1)
    with ctx.db.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.lease_expires_at = utcnow() - timedelta(seconds=1)
    assert outcomes.reap_expired(ctx.db) == 1
    assert _events(ctx) == [("image_generation.failed", generation_id)]


def test_keys_without_a_webhook_write_nothing(ctx: Context) -> None:
    _generation_id, job_id = _job(ctx, webhook=False)
    outcomes.complete(ctx.db, job_id=job_id, worker_id="w1", artifacts=[], lineage={})
    assert _events(ctx) == []
