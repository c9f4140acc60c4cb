"""Blueprints through the official SDK, against the in-process app, its worker driven by hand.

Driving the worker by hand makes every moment of an execution observable without sleeping:
a step queued, a step whose worker died mid-run, a step failed. An operator's blueprint
(written to ``$SFUMATO_HOME/blueprints``) chains tiny models: text-to-image → background
removal → upscale.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from leonardo_ai_sdk import LeonardoAiSDK
from leonardo_ai_sdk.models import errors
from sqlalchemy import select, update

from sfumato.app import create_app
from sfumato.engine import Engine
from sfumato.runtime import build_context
from sfumato.service.keys import issue_key
from sfumato.store import progress, queue
from sfumato.store.clock import utcnow
from sfumato.store.models import BlueprintExecution, CreditEntry, IdempotencyRecord, Job
from sfumato.store.progress import Progress
from sfumato.worker import outcomes
from sfumato.worker.loop import Worker
from tests.api.conftest import Api, make_settings
from tests.api.sdk import sdk_for

BLUEPRINT_ID = "9d3c1c44-2f7e-4d6a-9a51-3c1f0e6b7a01"
VERSION_ID = "9d3c1c44-2f7e-4d6a-9a51-3c1f0e6b7a02"
TINY_PRODUCT_SHOT = f"""
    id = "{BLUEPRINT_ID}"
    name = "Tiny product shot"
    categories = ["Product"]

    [[versions]]
    id = "{VERSION_ID}"
    created = 2026-12-02

    [[versions.nodes]]
    id = "photo"
    task = "text_to_image"
    model = "tiny-sd15"
    prompt = "a photo of {{product}}"
    inputs = ["text", "textVariables"]
    width = 64
    height = 64
    steps = 4
    seed = 7

    [[versions.nodes]]
    id = "cutout"
    task = "remove_background"
    model = "tiny-mask2former"

    [[versions.nodes]]
    id = "enlarge"
    task = "upscale"
    model = "tiny-esrgan"
    multiplier = 2.0
"""
TINY_MOTION_AD = """
    id = "9d3c1c44-2f7e-4d6a-9a51-3c1f0e6b7a03"
    name = "Tiny motion ad"

    [[versions]]
    id = "9d3c1c44-2f7e-4d6a-9a51-3c1f0e6b7a04"

    [[versions.nodes]]
    id = "key-visual"
    task = "text_to_image"
    model = "tiny-sd15"
    prompt = "a red kite"
    width = 64
    height = 64
    steps = 2

    [[versions.nodes]]
    id = "motion"
    task = "image_to_video"
    model = "tiny-ltx-video"
    prompt = "a red kite, drifting"
    duration = 1
"""
PRODUCT = [
    {"nodeId": "photo", "settingName": "textVariables", "value": [{"name": "product", "value": "a mug"}]}
]


@dataclass
class Rig:
    api: Api
    sdk: LeonardoAiSDK
    worker: Worker

    def execute(self, inputs: list[dict[str, Any]], sdk: LeonardoAiSDK | None = None) -> str:
        body = {"blueprint_version_id": VERSION_ID, "input": {"node_inputs": inputs, "public": False}}
        response = (sdk or self.sdk).blueprints.execute_blueprint(request=body)  # type: ignore[arg-type]
        return str(response.one_of.execute_blueprint.ak_uuid)  # type: ignore[union-attr]

    def execution(self, execution_id: str) -> dict[str, Any]:
        """The execution as the wire carries it, extra fields (its steps) included."""
        response = self.sdk.blueprints.get_blueprint_execution(id=execution_id)
        assert response.one_of.blueprint_execution is not None  # type: ignore[union-attr]
        return dict(response.raw_response.json()["blueprintExecution"])

    def ledger(self) -> list[tuple[str, int, str | None]]:
        """The account's charges and refunds (grants aside), oldest first, with their subjects."""
        with self.api.ctx.db.read() as session:
            rows = session.scalars(
                select(CreditEntry)
                .where(CreditEntry.account_id == self.api.user_id, CreditEntry.kind != "grant")
                .order_by(CreditEntry.id)
            )
            return [(row.kind, row.amount, row.subject_id) for row in rows]

    def jobs(self) -> list[Job]:
        with self.api.ctx.db.read() as session:
            return list(session.scalars(select(Job).order_by(Job.created_at, Job.id)))

    def balance(self) -> int:
        user = self.sdk.user.get_user_self().object.user_details[0]  # type: ignore[union-attr,index]
        return int(user.api_subscription_tokens or 0)


@pytest.fixture
def rig(database_url: str, tmp_path: Path, models_dir: Path, worker_engine: Engine) -> Iterator[Rig]:
    operator_dir = tmp_path / "home" / "blueprints"
    operator_dir.mkdir(parents=True)
    (operator_dir / "tiny_product_shot.toml").write_text(textwrap.dedent(TINY_PRODUCT_SHOT))
    (operator_dir / "tiny_motion_ad.toml").write_text(textwrap.dedent(TINY_MOTION_AD))
    settings = make_settings(database_url, tmp_path, models_dir, upscaler="tiny-esrgan",
                             segmenter="tiny-mask2former", default_model_id="tiny-sd15")  # fmt: skip
    ctx = build_context(settings)
    with TestClient(create_app(settings, context=ctx, with_worker=False)) as client:
        issued = issue_key(ctx, username="alice")
        api = Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id)
        worker = Worker(db=ctx.db, engine=worker_engine, blobs=ctx.blobs, worker_id="w", poll_seconds=0.05)
        yield Rig(api=api, sdk=sdk_for(api), worker=worker)


def _status(error: pytest.ExceptionInfo[errors.LeonardoAiSDKError]) -> int:
    return int(error.value.status_code)


@pytest.mark.databases("sqlite")  # the tests below run executions on both databases
def test_blueprints_are_listed_paged_and_quoted_and_a_motion_ad_ends_in_a_clip(rig: Rig) -> None:
    sdk = rig.sdk
    first = sdk.blueprints.list_blueprints(request={"first": 2}).one_of.blueprints  # type: ignore[union-attr]
    assert first.total_count == 5 and first.page_info.has_next_page  # three shipped, two operator's
    names = [edge.node.name for edge in first.edges]
    rest = sdk.blueprints.list_blueprints(request={"first": 2, "after": first.page_info.end_cursor})
    names += [edge.node.name for edge in rest.one_of.blueprints.edges]  # type: ignore[union-attr]
    assert names == ["Cut-out", "Motion ad", "Product shot", "Tiny motion ad"]
    end = rest.one_of.blueprints.page_info  # type: ignore[union-attr]
    assert end.has_next_page and end.has_previous_page
    back = sdk.blueprints.list_blueprints(request={"last": 1, "before": end.end_cursor}).one_of.blueprints  # type: ignore[union-attr]
    assert [edge.node.name for edge in back.edges] == ["Product shot"] and back.page_info.has_previous_page
    products = sdk.blueprints.list_blueprints(request={"categories": ["product"]}).one_of.blueprints  # type: ignore[union-attr]
    assert [edge.node.name for edge in products.edges] == ["Cut-out", "Product shot", "Tiny product shot"]
    assert sdk.blueprints.list_blueprints(request={"platforms": ["iOS"]}).one_of.blueprints.total_count == 0  # type: ignore[union-attr]

    blueprint = sdk.blueprints.get_blueprint_by_id(id=BLUEPRINT_ID).one_of.blueprint  # type: ignore[union-attr]
    assert blueprint.name == "Tiny product shot" and blueprint.official is False
    with pytest.raises(errors.LeonardoAiSDKError) as missing:
        sdk.blueprints.get_blueprint_by_id(id="00000000-0000-0000-0000-000000000000")
    assert _status(missing) == 404

    versions = sdk.blueprints.get_blueprint_versions_by_blueprint_id(id=BLUEPRINT_ID)
    [edge] = versions.one_of.blueprint_versions.edges  # type: ignore[union-attr]
    pricing = rig.api.ctx.pricing
    photo = pricing.image_generation(family="sd15", width=64, height=64, steps=4, num_images=1)
    assert edge.node.cost == photo + pricing.variation("nobg") + pricing.variation("upscale")
    assert edge.node.executability.is_executable is True
    assert edge.node.models == ["tiny-sd15", "tiny-mask2former", "tiny-esrgan"]
    motion = sdk.blueprints.get_blueprint_versions_by_blueprint_id(id="56500726-ceb7-4c72-a8d5-cbd113c89d87")
    [motion_edge] = motion.one_of.blueprint_versions.edges  # type: ignore[union-attr]
    assert motion_edge.node.executability.is_executable is False  # no video model is mapped here
    assert "cannot run" in motion_edge.node.executability.reasons[0].models

    # An operator's motion ad on the tiny models: a picture, then the clip drawn from it.
    body = {
        "blueprint_version_id": "9d3c1c44-2f7e-4d6a-9a51-3c1f0e6b7a04",
        "input": {"node_inputs": [], "public": True},
    }
    started = rig.sdk.blueprints.execute_blueprint(request=body).one_of.execute_blueprint  # type: ignore[arg-type,union-attr]
    assert rig.worker.run_once() == 1 and rig.worker.run_once() == 1
    execution = rig.execution(started.ak_uuid)
    assert execution["status"] == "COMPLETED" and execution["public"] is True
    clip = execution["steps"][1]["generationId"]
    video = rig.sdk.image.get_generation_by_id(id=clip).object.generations_by_pk  # type: ignore[union-attr]
    [frame] = video.generated_images
    assert frame.motion_mp4_url and rig.api.client.get(frame.motion_mp4_url).content[4:8] == b"ftyp"


def test_an_execution_runs_step_by_step_survives_a_dead_worker_and_is_charged_once_per_step(rig: Rig) -> None:
    sdk, before = rig.sdk, rig.balance()
    bad_inputs = [
        [{"nodeId": "nope", "settingName": "text", "value": "x"}],
        [{"nodeId": "photo", "settingName": "textVariables", "value": "a mug"}],  # wrong type
        [{"nodeId": "cutout", "settingName": "text", "value": "x"}],  # a setting the node lacks
        [],  # {product} has no default: required
    ]
    for inputs in bad_inputs:
        with pytest.raises(errors.ExecuteBlueprintResponseBody) as refused:
            rig.execute(inputs)
        assert refused.value.data.error and _status(refused) == 400
    assert rig.balance() == before and rig.jobs() == []  # nothing charged, nothing queued

    execution_id = rig.execute(PRODUCT)
    quote = rig.execution(execution_id)["apiCreditCost"]
    queued = rig.execution(execution_id)
    assert queued["status"] == "QUEUED"
    assert [s["status"] for s in queued["steps"]] == ["QUEUED", "WAITING", "WAITING"]
    costs = [step["cost"] for step in queued["steps"]]
    assert sum(costs) == quote and rig.balance() == before - costs[0]  # charged as each step is admitted

    assert rig.worker.run_once() == 1  # the photo
    running = rig.execution(execution_id)
    assert running["status"] == "PENDING"
    assert [s["status"] for s in running["steps"]] == ["COMPLETED", "QUEUED", "WAITING"]
    assert running["steps"][1]["queuePosition"] == 1 and rig.balance() == before - sum(costs[:2])

    # A worker takes the cut-out and dies mid-run: its lease runs out, and the step runs again.
    with rig.api.ctx.db.transaction() as session:
        [dead] = queue.claim_batch(session, worker_id="dead", lease_seconds=30)
    with rig.api.ctx.db.transaction() as session:
        progress.record(
            session, worker_id="dead", reports={(dead.id, dead.lease): Progress("segmenting", 1, 2)}
        )
    cutting = rig.execution(execution_id)["steps"][1]
    assert cutting["status"] == "RUNNING" and cutting["progress"] == {
        "stage": "segmenting",
        "step": 1,
        "total": 2,
    }
    with rig.api.ctx.db.transaction() as session:
        session.execute(
            update(Job).where(Job.id == dead.id).values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
    assert outcomes.reap_expired(rig.api.ctx.db, rig.api.ctx.blobs) == 1  # back in the queue
    assert rig.worker.run_once() == 1  # the cut-out again: the photo is not run again
    assert rig.worker.run_once() == 1  # the upscale
    assert rig.worker.run_once() == 0
    done = rig.execution(execution_id)
    assert done["status"] == "COMPLETED" and [s["status"] for s in done["steps"]] == ["COMPLETED"] * 3
    assert [(job.state, job.attempts) for job in rig.jobs()] == [
        ("succeeded", 1),
        ("succeeded", 2),
        ("succeeded", 1),
    ]
    # Each step debited exactly once, as it was admitted; nothing refunded.
    assert rig.ledger() == [("debit", -step["cost"], step["generationId"]) for step in done["steps"]]
    assert rig.balance() == before - quote

    page = sdk.blueprints.get_blueprint_execution_generations(request={"id": execution_id, "first": 2})
    listed = page.object.blueprint_execution_generations  # type: ignore[union-attr]
    assert listed.page_info.has_next_page
    rest = sdk.blueprints.get_blueprint_execution_generations(
        request={"id": execution_id, "after": listed.page_info.end_cursor}
    )
    edges = listed.edges + rest.object.blueprint_execution_generations.edges  # type: ignore[union-attr]
    ids = [edge.node.generation_id for edge in edges]
    assert ids == [step["generationId"] for step in done["steps"]]
    assert {edge.node.status for edge in edges} == {"COMPLETED"}
    sizes = []
    for generation_id in ids:  # in order: the photo, its cut-out, the cut-out upscaled
        generation = sdk.image.get_generation_by_id(id=generation_id).object.generations_by_pk  # type: ignore[union-attr]
        [image] = generation.generated_images
        sizes.append((generation.image_width, generation.image_height))
        assert rig.api.client.get(image.url).content.startswith(b"\x89PNG")
    assert sizes == [(64, 64), (64, 64), (128, 128)]

    stranger, _ = rig.api.new_key("mallory", credits=1000)
    other = sdk_for(rig.api, stranger)
    with pytest.raises(errors.LeonardoAiSDKError) as hidden:
        other.blueprints.get_blueprint_execution(id=execution_id)
    assert _status(hidden) == 404
    with pytest.raises(errors.LeonardoAiSDKError) as hidden:
        other.blueprints.get_blueprint_execution_generations(request={"id": execution_id})
    assert _status(hidden) == 404

    poor_key, poor_id = rig.api.new_key("poor", credits=quote - 1)
    with pytest.raises(errors.LeonardoAiSDKError) as short:
        rig.execute(PRODUCT, sdk=sdk_for(rig.api, poor_key))
    assert _status(short) == 402
    with rig.api.ctx.db.read() as session:
        kinds = session.scalars(select(CreditEntry.kind).where(CreditEntry.account_id == poor_id)).all()
    assert kinds == ["grant"]  # nothing charged


def _post_execution(rig: Rig, idempotency_key: str | None = None) -> Any:
    headers = rig.api.headers()
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    body = {"blueprintVersionId": VERSION_ID, "input": {"nodeInputs": PRODUCT, "public": False}}
    return rig.api.client.post("/api/rest/v1/blueprint-executions", json=body, headers=headers)


def _executions(rig: Rig) -> list[str]:
    with rig.api.ctx.db.read() as session:
        return list(session.scalars(select(BlueprintExecution.id)))


def test_an_execution_is_held_to_the_daily_budget_and_the_queue_cap_like_a_generation(rig: Rig) -> None:
    versions = rig.sdk.blueprints.get_blueprint_versions_by_blueprint_id(id=BLUEPRINT_ID)
    quote = versions.one_of.blueprint_versions.edges[0].node.cost  # type: ignore[union-attr]
    first_step = rig.api.ctx.pricing.image_generation(
        family="sd15", width=64, height=64, steps=4, num_images=1
    )
    assert first_step < quote - 1  # the budget below covers the step charged now, not the whole quote
    rig.api.ctx.settings.daily_credit_budget = quote - 1
    before = rig.balance()
    refused = _post_execution(rig)
    assert refused.status_code == 429, refused.text
    assert refused.json()["code"] == "daily-budget-exceeded" and set(refused.json()) == {
        "error",
        "path",
        "code",
    }
    assert f"costs {quote} credits" in refused.json()["error"]
    assert 0 < int(refused.headers["retry-after"]) <= 86400
    assert rig.balance() == before and rig.ledger() == [] and rig.jobs() == [] and _executions(rig) == []

    rig.api.ctx.settings.daily_credit_budget = quote  # the whole quote fits: admitted
    rig.api.ctx.settings.max_queued_per_account = 0  # … but every further job is over the queue cap
    over = _post_execution(rig)
    assert over.status_code == 429 and "jobs waiting" in over.json()["error"], over.text
    assert rig.balance() == before and rig.ledger() == [] and rig.jobs() == [] and _executions(rig) == []


def test_a_retried_execution_under_one_idempotency_key_is_one_execution_charged_once(rig: Rig) -> None:
    before = rig.balance()
    first = _post_execution(rig, "campaign-1")
    assert first.status_code == 200, first.text
    started = first.json()["executeBlueprint"]
    again = _post_execution(rig, "campaign-1")  # its answer was stored: replayed
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    with rig.api.ctx.db.transaction() as session:
        # As a process that died after committing the execution, before storing its answer, leaves it.
        record = session.scalars(select(IdempotencyRecord).where(IdempotencyRecord.key == "campaign-1")).one()
        assert (record.subject_kind, record.subject_id) == ("blueprint_execution", started["akUUID"])
        record.status_code, record.response_body = None, None
        record.created_at = utcnow() - timedelta(minutes=5)
    retry = _post_execution(rig, "campaign-1")
    assert retry.status_code == 200, retry.text
    assert retry.json()["executeBlueprint"] == started  # the same execution, its quote
    assert _executions(rig) == [started["akUUID"]] and len(rig.jobs()) == 1
    photo = rig.execution(started["akUUID"])["steps"][0]
    assert rig.ledger() == [("debit", -photo["cost"], photo["generationId"])]  # charged once
    assert rig.balance() == before - photo["cost"]


def test_a_failing_or_deleted_step_fails_the_execution_and_refunds_what_did_not_run(rig: Rig) -> None:
    before = rig.balance()
    execution_id = rig.execute(PRODUCT)
    assert rig.worker.run_once() == 1
    photo, cutout, enlarge = rig.execution(execution_id)["steps"]
    rig.sdk.image.delete_generation_by_id(id=photo["generationId"])  # the cut-out's picture goes with it
    assert rig.worker.run_once() == 1
    assert rig.worker.run_once() == 0  # nothing after the failed step is queued

    failed = rig.execution(execution_id)
    assert failed["status"] == "FAILED" and "cutout" in failed["failedReason"]
    assert [s["status"] for s in failed["steps"]] == ["COMPLETED", "FAILED", "CANCELLED"]
    assert "gone" in failed["steps"][1]["error"]
    assert enlarge["generationId"] is None  # never admitted, so never charged:
    assert rig.ledger() == [
        ("debit", -photo["cost"], photo["generationId"]),
        ("debit", -cutout["cost"], cutout["generationId"]),
        ("refund", cutout["cost"], cutout["generationId"]),
    ]
    assert rig.balance() == before - photo["cost"]
    listed = rig.sdk.blueprints.get_blueprint_execution_generations(request={"id": execution_id})
    statuses = [edge.node.status for edge in listed.object.blueprint_execution_generations.edges]  # type: ignore[union-attr]
    assert statuses == ["FAILED"]  # the photo was deleted; the cut-out's generation failed

    before = rig.balance()  # a step deleted while queued: cancelled, refunded
    execution_id = rig.execute(PRODUCT)
    photo = rig.execution(execution_id)["steps"][0]
    rig.sdk.image.delete_generation_by_id(id=photo["generationId"])
    ended = rig.execution(execution_id)
    assert ended["status"] == "FAILED" and "deleted" in ended["failedReason"]
    assert [s["status"] for s in ended["steps"]] == ["CANCELLED"] * 3
    assert rig.worker.run_once() == 0 and rig.balance() == before
