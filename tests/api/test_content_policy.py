"""The prompt policy: every surface that takes text refuses a blocked one with 400
content-policy, charges nothing, queues nothing, and logs the text's hash, never the text."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from sfumato.service import policy
from sfumato.store.models import Generation, Job, Variation
from tests.api.canvas import balance, data_url, noise, square_mask
from tests.api.conftest import Api
from tests.api.test_image_editing import _canvas, _center_mask
from tests.api.uploading import noise_png, upload
from tests.api.video import video_app

RULES = """
[categories.violence]
terms = ["forbidden fruit"]
patterns = ['\\bzap+ed\\b']
"""
BLOCKED = "a FORBIDDEN   fruit in a bowl"
SMALL = {"modelId": "tiny-sd15", "width": 64, "height": 64, "num_images": 1, "num_inference_steps": 10}


@pytest.fixture
def policed(database_url: str, tmp_path: Path, models_dir: Path) -> Iterator[Api]:
    with video_app(database_url, tmp_path, models_dir) as api:
        api.ctx.settings.resolved_policy_file.write_text(RULES, "utf-8")
        yield api


def _counts(api: Api) -> tuple[int, int, int, int]:
    with api.ctx.db.read() as session:
        jobs = session.scalar(select(func.count()).select_from(Job)) or 0
        generations = session.scalar(select(func.count()).select_from(Generation)) or 0
        variations = session.scalar(select(func.count()).select_from(Variation)) or 0
    return balance(api), jobs, generations, variations


def _refused(response: Any, category: str = "violence") -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "content-policy" and repr(category) in body["error"], body


def test_every_text_surface_refuses_a_blocked_prompt_charging_and_queuing_nothing(
    policed: Api, caplog: pytest.LogCaptureFixture
) -> None:
    api = policed
    source = api.wait(api.generate(**SMALL, prompt="a still life"))
    [image] = source["generated_images"]
    init_id = upload(api, noise_png(seed=1))
    canvas_init, canvas_mask = _canvas(api, noise_png(seed=2), _center_mask())
    picture, mask = data_url(noise(seed=3)), data_url(square_mask())
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("/generations", {**SMALL, "prompt": BLOCKED}),
        ("/generations", {**SMALL, "prompt": "a bowl", "negative_prompt": "zapped"}),
        ("/generations", {**SMALL, "prompt": BLOCKED, "init_image_id": init_id, "init_strength": 0.3}),
        ("/generations", {**SMALL, "prompt": BLOCKED, "canvasRequest": True, "canvasRequestType": "INPAINT",
                          "canvasInitId": canvas_init, "canvasMaskId": canvas_mask}),
        ("/generations-lcm", {"imageDataUrl": picture, "prompt": BLOCKED, "width": 64, "height": 64}),
        ("/lcm-instant-refine", {"imageDataUrl": picture, "prompt": BLOCKED, "width": 64, "height": 64}),
        ("/lcm-inpainting", {"imageDataUrl": picture, "maskDataUrl": mask, "prompt": BLOCKED,
                             "width": 64, "height": 64}),
        ("/variations/universal-upscaler", {"generatedImageId": image["id"], "prompt": "zappped bowl"}),
        ("/prompt/improve", {"prompt": BLOCKED}),
        ("/prompt/improve", {"prompt": "a bowl", "promptInstructions": "make it zapped"}),
        ("/generations-text-to-video", {"prompt": BLOCKED, "width": 64, "height": 64, "duration": 1}),
        ("/generations-image-to-video", {"prompt": "a bowl", "negativePrompt": "zapped",
                                         "imageId": image["id"], "imageType": "GENERATED",
                                         "width": 64, "height": 64, "duration": 1}),
    ]  # fmt: skip
    before = _counts(api)
    with caplog.at_level(logging.INFO):
        for path, body in attempts:
            _refused(api.post(path, json=body))
    assert _counts(api) == before  # no charge, no job, no generation, no variation
    assert "forbidden" not in caplog.text.lower() and "zapp" not in caplog.text
    assert hashlib.sha256(BLOCKED.encode()).hexdigest() in caplog.text
    assert _counted(api, 'sfumato_content_policy_refusals_total{category="violence"}') >= len(attempts)


def _counted(api: Api, series: str) -> float:
    for line in api.client.get("/metrics").text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


def test_a_written_prompt_that_falls_under_a_rule_is_not_given_out_nor_charged(policed: Api) -> None:
    api = policed
    policy.update_account_policy(api.ctx, username="alice", category="brand", patterns=["fox, make it blue"])
    before = _counts(api)
    improved = api.post("/prompt/improve", json={"prompt": "a red fox", "promptInstructions": "make it blue"})
    _refused(improved, "brand")
    enhanced = api.post("/generations", json={**SMALL, "prompt": "a red fox", "enhancePrompt": True,
                                              "enhancePromptInstruction": "make it blue"})  # fmt: skip
    _refused(enhanced, "brand")
    assert _counts(api) == before
    assert api.post("/prompt/improve", json={"prompt": "a red fox"}).status_code == 200


def test_account_overrides_add_rules_and_lift_categories(policed: Api) -> None:
    api = policed
    bob, _ = api.new_key("bob")
    lifted = policy.update_account_policy(api.ctx, username="bob", allow=["violence"])
    assert lifted.allowed == ["violence"] and lifted.mode == "flag"
    policy.update_account_policy(api.ctx, username="alice", category="brand", terms=["Acme"])
    _refused(api.post("/generations", json={**SMALL, "prompt": "an acme anvil"}), "brand")
    assert api.post("/generations", json={**SMALL, "prompt": "an acme anvil"}, key=bob).status_code == 200
    assert api.post("/generations", json={**SMALL, "prompt": BLOCKED}, key=bob).status_code == 200
    _refused(api.post("/generations", json={**SMALL, "prompt": BLOCKED}))
    policy.update_account_policy(api.ctx, username="bob", disallow=["violence"])
    _refused(api.post("/generations", json={**SMALL, "prompt": BLOCKED}, key=bob))


def test_bad_rules_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="pattern"):
        policy.RuleSet.parse({"x": {"patterns": ["(unclosed"]}}, "test")
    with pytest.raises(ValueError, match="category"):
        policy.RuleSet.parse({"bad name": {"terms": ["a"]}}, "test")
    rules = policy.RuleSet.parse(json.loads('{"v": {"terms": ["gun"]}}'), "test")
    assert rules.category_of("a GUN on a table") == "v"
    assert rules.category_of("a gunboat") is None  # whole words only
    assert policy.RuleSet.parse({"v": {"terms": ["mass shooting"]}}, "t").category_of("Mass-Shooting!") == "v"
    with pytest.raises(ValueError, match="no word"):
        policy.RuleSet.parse({"v": {"terms": ["!!"]}}, "test")


def test_a_malformed_rules_file_keeps_the_last_good_rules_or_refuses_text(
    policed: Api, tmp_path: Path
) -> None:
    api = policed
    _refused(api.post("/generations", json={**SMALL, "prompt": BLOCKED}))
    path = api.ctx.settings.resolved_policy_file
    path.write_text("[categories.violence]\nterms = [1]\n", "utf-8")
    later = time.time_ns() + 10**9
    os.utime(path, ns=(later, later))
    _refused(api.post("/generations", json={**SMALL, "prompt": BLOCKED}))  # the rules read last
    broken = tmp_path / "broken.toml"
    broken.write_text("not [ toml", "utf-8")
    api.ctx.settings.policy_file = broken  # never read well: text is refused, not let through
    before = _counts(api)
    for path_, body in (("/generations", {**SMALL, "prompt": "a bowl"}), ("/prompt/random", {})):
        response = api.post(path_, json=body)
        assert response.status_code == 503 and response.json()["code"] == "content-policy-unavailable"
    assert _counts(api) == before
