"""``sfumato batch`` without a server: reading and checking request files and templates, the
checkpoint's integrity, the retry arithmetic, the webhook receiver's checks, and a FAILED
job resubmitted under ``--retry-failed`` (against a scripted Leonardo-shaped transport)."""

from __future__ import annotations

import asyncio
import json
import random
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from sfumato.batch import BatchError
from sfumato.batch.backoff import PollSchedule, backoff_seconds, retry_after_seconds
from sfumato.batch.completion import Polling, Webhooks
from sfumato.batch.display import Tally
from sfumato.batch.http import Api, ApiError, api_base
from sfumato.batch.requests import expand_template, read_jsonl
from sfumato.batch.runner import Runner
from sfumato.cli import app
from sfumato.webhooks import signing

runner = CliRunner()
UNREACHABLE = "http://127.0.0.1:9"  # nothing listens: a test that reached the network would fail


def jsonl(path: Path, *lines: Any) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def run(*args: str) -> Any:
    return runner.invoke(app, ["batch", "run", *args, "--base-url", UNREACHABLE, "--api-key", "k"])


def test_a_bad_line_is_refused_with_its_file_line_and_field(tmp_path: Path) -> None:
    requests = jsonl(tmp_path / "requests.jsonl", {"prompt": "ok"}, {"prompt": "bad", "width": 100})
    result = run(str(requests), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "requests.jsonl:2: width: Value error, must be a multiple of 8 (kind image)" in result.output
    assert not (tmp_path / "out").exists()  # nothing was started


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["{not json"], "requests.jsonl:1: not JSON"),
        ([{"kind": "sculpt", "prompt": "x"}], "requests.jsonl:1: unknown kind 'sculpt'"),
        (
            [{"id": "a", "prompt": "x"}, {"id": "a", "prompt": "y"}],
            "requests.jsonl:2: id 'a' is already used at",
        ),
        ([{"id": "../escape", "prompt": "x"}], "requests.jsonl:1: id '../escape' must be"),
        ([{"kind": "upscale"}], "requests.jsonl:1: id: Field required (kind upscale)"),
        ([{"id": "x", "body": {"id": "img"}, "seed": 1}], "requests.jsonl:1: beside"),
    ],
)
def test_request_file_mistakes_are_named(tmp_path: Path, lines: list[Any], message: str) -> None:
    with pytest.raises(BatchError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        read_jsonl(jsonl(tmp_path / "requests.jsonl", *lines))


def test_kinds_and_ids_come_from_the_line_and_the_rest_is_the_wire_body(tmp_path: Path) -> None:
    lines = [{"prompt": "a fox", "seed": 3}, "", {"id": "fox", "kind": "upscale", "body": {"id": "img-1"}},
             {"kind": "nobg", "id": "img-2"}]  # fmt: skip
    image, upscale, nobg = read_jsonl(jsonl(tmp_path / "r.jsonl", *lines))
    assert (image.id, image.kind.name, image.body) == ("line-1", "image", {"prompt": "a fox", "seed": 3})
    assert (upscale.id, upscale.kind.path, upscale.body) == ("fox", "/variations/upscale", {"id": "img-1"})
    assert (nobg.id, nobg.body) == ("line-4", {"id": "img-2"})  # a variation's flat "id" is the picture's


def test_idempotency_keys_are_stable_per_line_and_new_per_retry(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "r.jsonl", {"prompt": "a"}, {"prompt": "a"})
    (a1, b1), (a2, _) = read_jsonl(path), read_jsonl(path)
    assert a1.idempotency_key() == a2.idempotency_key()  # a re-run sends the same key
    assert a1.idempotency_key() != b1.idempotency_key()  # the same body on another line is another job
    assert a1.idempotency_key(1) != a1.idempotency_key(0)  # a retry of a FAILED job is a new request


def test_a_text_template_fills_the_prompt_and_a_json_template_the_whole_body(tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("id,animal,seed\nfox,a red fox,7\nowl,an owl,8\n")
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("{animal} in the snow, watercolour\n")
    fox, owl = expand_template(prompt, rows, {"modelId": "tiny-sd15", "width": 64})
    assert (fox.id, fox.body) == (
        "fox",
        {"modelId": "tiny-sd15", "width": 64, "prompt": "a red fox in the snow, watercolour"},
    )
    assert owl.where == "rows.csv:3"

    body = tmp_path / "body.json"
    body.write_text(json.dumps({"prompt": "{animal}, take {seed}", "seed": "{seed}", "num_images": 1}))
    fox, _ = expand_template(body, rows)
    assert fox.body == {"prompt": "a red fox, take 7", "seed": 7, "num_images": 1}  # "{seed}" alone: a number

    body.write_text(json.dumps({"prompt": "{colour} fox"}))
    with pytest.raises(
        BatchError, match=r"rows.csv:2: the template names \{colour\} but the CSV has no such column"
    ):
        expand_template(body, rows)


def test_a_corrupted_checkpoint_line_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    requests = jsonl(tmp_path / "requests.jsonl", {"prompt": "a"}, {"prompt": "b"})
    out = tmp_path / "out"
    out.mkdir()
    good = {"event": "submitted", "line": "line-1", "attempt": 0, "job": "g1", "kind": "image",
            "at": "2026-12-02T10:00:00Z"}  # fmt: skip
    jsonl(out / "checkpoint.jsonl", good, '{"event": "submitted", "line": "line-2", "att')
    result = run(str(requests), "--out", str(out))
    assert result.exit_code == 1
    assert (
        "checkpoint.jsonl:2 is corrupted" in result.output and "Repair or delete that line" in result.output
    )
    jsonl(out / "checkpoint.jsonl", {**good, "event": "finished"})
    assert "checkpoint.jsonl:1 is corrupted" in run(str(requests), "--out", str(out)).output


def test_retry_after_backoff_and_polling_arithmetic() -> None:
    assert retry_after_seconds("3") == 3.0 and retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert 9 <= retry_after_seconds(formatdate(1_000_010, usegmt=True), now=1_000_000.0) <= 10  # type: ignore[operator]
    rng = random.Random(1)
    for attempt in range(12):
        ceiling = min(30.0, 0.5 * 2**attempt)
        assert ceiling / 2 <= backoff_seconds(attempt, rng=rng) <= ceiling
    schedule = PollSchedule(start=1.0, factor=2.0, cap=8.0, jitter=0.25)
    waits = [schedule.wait(n, rng) for n in range(6)]
    assert waits[0] <= 1.25 and all(6 <= w <= 10 for w in waits[3:])  # fast early, capped later
    assert len({round(w, 6) for w in waits[3:]}) == 3  # jittered, not in lockstep
    assert api_base("http://h:8000") == "http://h:8000/api/rest/v1"
    assert api_base("https://cloud.leonardo.ai/api/rest/v1/") == "https://cloud.leonardo.ai/api/rest/v1"


def test_the_webhook_receiver_wakes_a_job_only_for_an_event_signed_with_the_keys_secret() -> None:
    secret = signing.new_secret()

    async def scenario() -> None:
        hooks = Webhooks("127.0.0.1", 0, secret=secret, fallback=PollSchedule(start=5.0, jitter=0))
        transport = httpx.ASGITransport(app=hooks.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
            body = json.dumps(
                {"type": "image_generation.complete", "data": {"object": {"id": "g1"}}}
            ).encode()
            forged = signing.headers(signing.new_secret(), "evt-1", body)
            assert (await client.post("/hooks", content=body, headers=forged)).status_code == 401
            waiter = asyncio.create_task(hooks.wait("g1", 0))
            await asyncio.sleep(0.05)
            assert not waiter.done()  # the forged event woke nothing
            signed = signing.headers(secret, "evt-2", body)
            assert (await client.post("/hooks", content=body, headers=signed)).status_code == 204
            await asyncio.wait_for(waiter, timeout=2)
        assert (hooks.received, hooks.refused) == (1, 1)

    asyncio.run(scenario())


def test_a_failed_job_is_resubmitted_as_a_new_request_under_retry_failed(tmp_path: Path) -> None:
    """A Leonardo-shaped server whose first job fails: the run submits again with a new key and
    records the failure beside the result."""
    posts: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(request.headers["idempotency-key"])
            job = {"generationId": f"g{len(posts)}", "apiCreditCost": 2}
            return httpx.Response(200, json={"sdGenerationJob": job})
        if request.url.path.endswith("/generations/g1"):
            return httpx.Response(
                200, json={"generations_by_pk": {"status": "FAILED", "failureReason": "out of memory"}}
            )
        if request.url.path.endswith("/generations/g2"):
            image = {"id": "i1", "url": "https://cdn.example/i1.png"}
            return httpx.Response(
                200, json={"generations_by_pk": {"status": "COMPLETE", "generated_images": [image]}}
            )
        return httpx.Response(200, content=b"\x89PNG-bytes")

    requests = read_jsonl(jsonl(tmp_path / "r.jsonl", {"id": "fox", "prompt": "a fox"}))
    out = tmp_path / "out"

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
            api = Api("https://leonardo.example/api/rest/v1", "k", client=client)
            batch = Runner(api, Polling(PollSchedule(start=0.01)), out, retry_failed=1)
            await batch.run(requests, Tally(total=1))

    asyncio.run(scenario())
    assert len(posts) == 2 and posts[0] != posts[1]
    (record,) = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert record["status"] == "COMPLETE" and record["generation_id"] == "g2"
    assert record["failed_attempts"] == [{"attempt": 0, "job": "g1", "reason": "out of memory"}]
    assert (out / "files" / "fox-0.png").read_bytes() == b"\x89PNG-bytes"
    events = [json.loads(line)["event"] for line in (out / "checkpoint.jsonl").read_text().splitlines()]
    assert events == ["submitted", "failed", "submitted"]


def test_a_clip_line_posts_to_its_endpoint_and_stores_the_mp4_not_the_poster(tmp_path: Path) -> None:
    seen: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.method == "POST":
            job = {"generationId": "clip-1", "apiCreditCost": 10}
            return httpx.Response(200, json={"motionVideoGenerationJob": job})
        if request.url.path.endswith("/generations/clip-1"):
            image = {
                "id": "i9",
                "url": "https://cdn.example/poster.jpg",
                "motionMP4URL": "https://cdn.example/c.mp4",
            }
            generation = {"status": "COMPLETE", "generated_images": [image], "apiCreditCost": 10}
            return httpx.Response(200, json={"generations_by_pk": generation})
        return httpx.Response(200, content=b"\x00\x00\x00\x18ftypisom")

    line = {"id": "fox", "kind": "text-to-video", "prompt": "a fox running", "duration": 2}
    requests = read_jsonl(jsonl(tmp_path / "r.jsonl", line))
    out = tmp_path / "out"

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
            api = Api("https://leonardo.example", "k", client=client)
            await Runner(api, Polling(PollSchedule(start=0.01)), out).run(requests, Tally(total=1))

    asyncio.run(scenario())
    assert seen == [
        "POST /api/rest/v1/generations-text-to-video",
        "GET /api/rest/v1/generations/clip-1",
        "GET /c.mp4",
    ]
    (record,) = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert record["files"][0] | {"sha256": None} == {"path": "files/fox-0.mp4", "id": "i9", "bytes": 12,
        "sha256": None, "url": "https://cdn.example/c.mp4", "media": "video"}  # fmt: skip
    assert record["cost"] == 10


def test_the_client_retries_what_may_pass_and_gives_up_on_what_will_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sfumato.batch.http.backoff_seconds", lambda attempt: 0.0)
    answers = [
        httpx.Response(503, json={"error": "restarting", "code": "unexpected"}),
        httpx.Response(429, json={"error": "queue full", "code": "queue-full"}),  # no Retry-After: backoff
        httpx.Response(409, json={"error": "in progress; retry shortly", "code": "conflict"}),
        httpx.Response(200, json={"sdGenerationJob": {"generationId": "g1"}}),
        httpx.Response(409, json={"error": "another body", "code": "idempotency-key-reused"}),
    ]
    keys: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["idempotency-key"])
        return answers.pop(0)

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
            api = Api("http://h", "k", client=client)
            answer = await api.post("/generations", {"prompt": "a"}, idempotency_key="line-1")
            assert answer == {"sdGenerationJob": {"generationId": "g1"}}
            assert (api.counters.requests, api.counters.rate_limited, api.counters.retried) == (4, 1, 2)
            with pytest.raises(ApiError, match="409 idempotency-key-reused: another body"):
                await api.post("/generations", {"prompt": "b"}, idempotency_key="line-1")

    asyncio.run(scenario())
    assert keys == ["line-1"] * 5  # every retry under the same key: never a second job
