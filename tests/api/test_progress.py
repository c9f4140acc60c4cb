"""Queue position and progress on the wire, read back by the official SDK."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from leonardo_ai_sdk.models import shared

from sfumato.api.schemas.views import variation_object
from sfumato.app import create_app
from sfumato.engine import report
from sfumato.jobs.kinds import variation as variation_kind
from sfumato.runtime import build_context
from sfumato.service.keys import issue_key
from sfumato.service.views import ProgressView, VariationView
from sfumato.store import progress, queue
from tests.api.conftest import Api, make_settings
from tests.api.sdk import sdk_for


@pytest.fixture
def idle_api(database_url: str, tmp_path: Path, models_dir: Path) -> Iterator[Api]:
    """The API with no worker: jobs stay queued until a test claims them by hand."""
    settings = make_settings(database_url, tmp_path, models_dir)
    ctx = build_context(settings)
    with TestClient(create_app(settings, context=ctx, with_worker=False)) as client:
        issued = issue_key(ctx, username="alice")
        yield Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id)


def _by_pk(api: Api, generation_id: str) -> dict[str, object]:
    response = api.get(f"/generations/{generation_id}")
    assert response.status_code == 200
    return dict(response.json()["generations_by_pk"])


def test_queued_generations_carry_their_place_in_line(idle_api: Api) -> None:
    first, second = idle_api.generate(), idle_api.generate(seed=2)
    assert [_by_pk(idle_api, g).get("queuePosition") for g in (first, second)] == [1, 2]
    assert "progress" not in _by_pk(idle_api, second)
    fetched = sdk_for(idle_api).image.get_generation_by_id(id=second).object.generations_by_pk  # type: ignore[union-attr]
    assert fetched is not None and fetched.status == shared.JobStatus.PENDING and fetched.id == second


def test_a_running_generation_carries_its_progress(idle_api: Api) -> None:
    generation_id = idle_api.generate()
    with idle_api.ctx.db.transaction() as session:
        [job] = queue.claim_batch(session, worker_id="w", lease_seconds=30, max_jobs=1)
        step = progress.Progress(stage=report.DENOISING, step=3, total=10)
        progress.record(session, worker_id="w", reports={(job.id, job.lease): step})
    body = _by_pk(idle_api, generation_id)
    assert body["progress"] == {"stage": "denoising", "step": 3, "total": 10}
    assert "queuePosition" not in body
    fetched = sdk_for(idle_api).image.get_generation_by_id(id=generation_id).object.generations_by_pk  # type: ignore[union-attr]
    assert fetched is not None and fetched.status == shared.JobStatus.PENDING


def test_a_variation_job_names_its_variation_and_renders_its_standing() -> None:
    payload = variation_kind.VariationPayload(
        variation_id="v-1", transform="NOBG", source_key="k", segmenter="tiny-segmenter"
    )
    row = variation_kind.KIND.job_row(payload, account_id="a", max_attempts=3)
    assert row["subject_id"] == "v-1"
    view = VariationView(id="v-1", status="PENDING", transform="NOBG", url=None, width=None, height=None,
                         credit_cost=0, failure_reason=None, created_at=datetime.now(UTC),
                         progress=ProgressView(report.SEGMENTING, 0, 0))  # fmt: skip
    rendered = variation_object(view)
    assert rendered["progress"] == {"stage": "segmenting", "step": 0, "total": 0}
    assert "queuePosition" not in rendered
