"""``sfumato batch run`` against a live sfumato with the tiny model: a file runs to the end,
survives SIGKILL without a second charge or download, rides out a rate limit, and learns of
completions by webhook as well as by polling."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

from sfumato.cli import app
from sfumato.service.rate_limits import RateLimiter, parse_limits
from tests.batch.conftest import LiveServer

# One worker runs this module's tests (``--dist loadgroup``), so they share one live server.
pytestmark = pytest.mark.xdist_group("batch-live-server")
runner = CliRunner()


def write_lines(path: Path, count: int, prefix: str, **extra: Any) -> Path:
    with path.open("w") as out:
        for n in range(count):
            body = {"id": f"{prefix}-{n:03d}", "modelId": "tiny-sd15", "prompt": f"a lighthouse, take {n}",
                    "width": 64, "height": 64, "num_images": 1, "num_inference_steps": 1, "seed": n + 1,
                    "scheduler": "EULER_DISCRETE", **extra}  # fmt: skip
            out.write(json.dumps(body) + "\n")
    return path


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def batch_args(server: LiveServer, requests: Path, out: Path, key: str, *more: str) -> list[str]:
    return ["batch", "run", str(requests), "--out", str(out), "--base-url", server.url, "--api-key", key,
            "--poll-start", "0.1", "--poll-max", "1", *more]  # fmt: skip


def run_cli(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def blob_path(url: str) -> str:
    return "/" + url.split("/", 3)[3].split("?")[0]


def assert_manifest_exact(
    server: LiveServer, out: Path, ids: list[str], seeds: list[int], interrupted: int = 0
) -> list[dict[str, Any]]:
    """One COMPLETE record per line, in no particular order, whose files are on disk as the
    server served them (size and SHA-256), each fetched from the server once — but for at
    most ``interrupted`` transfers a killed run had begun and not finished."""
    manifest = records(out / "manifest.jsonl")
    assert sorted(r["id"] for r in manifest) == sorted(ids)
    by_id = {r["id"]: r for r in manifest}
    for line_id, seed in zip(ids, seeds, strict=True):
        record = by_id[line_id]
        assert record["status"] == "COMPLETE" and record["kind"] == "image"
        assert record["seeds"] == [seed] and record["lineage"]["seeds"] == [seed]
        (stored,) = record["files"]
        data = (out / stored["path"]).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) == stored["bytes"]
        assert record["lineage"]["imageSha256"] == [stored["sha256"]]
        fetched = server.recorder.count("GET", blob_path(stored["url"]))
        assert fetched == 1 or (fetched == 2 and interrupted), f"{stored['url']} downloaded {fetched} times"
        interrupted -= fetched - 1
    assert interrupted >= 0, "more downloads repeated than the kill interrupted"
    assert len({r["generation_id"] for r in manifest}) == len(ids)
    assert not list((out / "files").glob("*.part"))
    return manifest


def test_a_200_line_file_killed_mid_run_resumes_without_a_second_charge_or_download(
    live_server: LiveServer, tmp_path: Path
) -> None:
    count = 200
    issued = live_server.key("batch-200")
    requests = write_lines(tmp_path / "requests.jsonl", count, "lighthouse")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "sfumato.cli", *batch_args(live_server, requests, out, issued.api_key,
                                                                  "--concurrency", "16")]  # fmt: skip
    started = time.monotonic()
    log = tmp_path / "first.log"
    with log.open("wb") as sink:
        first = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=os.environ.copy())
    checkpoint = out / "checkpoint.jsonl"
    deadline = time.monotonic() + 120
    # Follows the checkpoint file as a user would tail it, counting whole lines only.
    while not checkpoint.exists() or checkpoint.read_bytes().count(b"\n") < 60:
        assert first.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, "the run never got 60 jobs in"
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    done_before = len(records(out / "manifest.jsonl"))
    assert done_before < count  # killed mid-run: part done, part in flight, part never sent
    stored_before = {path.name: path.read_bytes() for path in (out / "files").glob("*.png")}

    second = subprocess.run(command, capture_output=True, timeout=600, env=os.environ.copy())
    assert second.returncode == 0, second.stderr.decode()
    elapsed = time.monotonic() - started
    assert f"{count} done, 0 failed, 0 refused of {count}" in second.stdout.decode()

    ids = [f"lighthouse-{n:03d}" for n in range(count)]
    # At most one transfer per line in flight (16) can have been cut short by the kill; a file
    # stored whole before it is never fetched again, and is the very file the run keeps.
    manifest = assert_manifest_exact(live_server, out, ids, [n + 1 for n in range(count)], interrupted=16)
    for record in manifest:
        (stored,) = record["files"]
        name = Path(stored["path"]).name
        if name in stored_before:
            assert live_server.recorder.count("GET", blob_path(stored["url"])) == 1
            assert (out / stored["path"]).read_bytes() == stored_before[name]
    debits = live_server.debits(issued.user_id)
    assert len(debits) == count  # the ledger: exactly one charge per line
    assert {generation for generation, _ in debits} == {r["generation_id"] for r in manifest}
    assert sum(amount for _, amount in debits) == sum(r["cost"] for r in manifest)
    jobs: dict[str, set[str]] = {}
    for record in records(checkpoint):
        jobs.setdefault(record["line"], set()).add(record["job"])
    assert all(len(named) == 1 for named in jobs.values())  # a resubmission got the same job back
    print(f"\n{count} lines with a SIGKILL after {done_before} finished: {elapsed:.1f}s in all")


def test_a_rate_limited_server_is_waited_out_with_no_failed_request(
    live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What SFUMATO_RATE_LIMIT_PER_KEY=5/second builds, swapped into the running server.
    limiter = RateLimiter(per_key=parse_limits("5/second", "SFUMATO_RATE_LIMIT_PER_KEY"), per_account=[])
    monkeypatch.setattr(live_server.ctx, "rate_limiter", limiter)
    issued = live_server.key("batch-limited")
    count = 6
    requests = write_lines(tmp_path / "requests.jsonl", count, "limited")
    limited_before = live_server.recorder.count("POST", "/api/rest/v1/generations", 429)
    limited_before += live_server.recorder.count("GET", "/api/rest/v1/generations", 429)
    output = run_cli(
        *batch_args(live_server, requests, tmp_path / "out", issued.api_key, "--concurrency", "8")
    )
    limited = live_server.recorder.count("POST", "/api/rest/v1/generations", 429)
    limited += live_server.recorder.count("GET", "/api/rest/v1/generations", 429)
    assert limited > limited_before  # the server did refuse requests …
    assert f"{count} done, 0 failed, 0 refused of {count}" in output  # … and every line still finished
    assert_manifest_exact(live_server, tmp_path / "out", [f"limited-{n:03d}" for n in range(count)],
                          [n + 1 for n in range(count)])  # fmt: skip
    assert len(live_server.debits(issued.user_id)) == count


def test_webhooks_wake_each_job_so_it_is_read_once_without_polling(
    live_server: LiveServer, tmp_path: Path
) -> None:
    from tests.batch.conftest import free_port

    port = free_port()
    # The wire format has no per-request callback: the key carries the receiver's URL.
    issued = live_server.key(
        "batch-hooks", webhook_url=f"http://127.0.0.1:{port}/hooks", webhook_key="hook-token"
    )
    assert issued.webhook_secret is not None
    count = 8
    requests = write_lines(tmp_path / "requests.jsonl", count, "hooked")
    # Both checks: sfumato's signature and Leonardo's bearer callback key, as the server sends them.
    hooks = ["--webhook-listen", f"127.0.0.1:{port}", "--webhook-secret", issued.webhook_secret,
             "--webhook-key", "hook-token", "--webhook-fallback", "120"]  # fmt: skip
    output = run_cli(*batch_args(live_server, requests, tmp_path / "out", issued.api_key, *hooks))
    assert f"{count} done, 0 failed, 0 refused of {count}" in output
    assert f"webhooks: {count} events received, 0 refused" in output
    manifest = assert_manifest_exact(live_server, tmp_path / "out", [f"hooked-{n:03d}" for n in range(count)],
                                     [n + 1 for n in range(count)])  # fmt: skip
    for record in manifest:  # woken by its event, read once; a poll loop would read it again and again
        assert live_server.recorder.count("GET", f"/api/rest/v1/generations/{record['generation_id']}") == 1


def test_dry_run_prices_the_file_and_max_credits_stops_a_run_above_it(
    live_server: LiveServer, tmp_path: Path
) -> None:
    issued = live_server.key("batch-priced")
    requests = write_lines(tmp_path / "requests.jsonl", 3, "priced", num_images=2)
    out = tmp_path / "out"
    submitted = live_server.recorder.count("POST", "/api/rest/v1/generations")
    output = run_cli(*batch_args(live_server, requests, out, issued.api_key, "--dry-run"))
    (estimate,) = [int(line.split()[1]) for line in output.splitlines() if line.startswith("estimate:")]
    assert estimate > 0 and live_server.recorder.count("POST", "/api/rest/v1/generations") == submitted

    refused = runner.invoke(app, batch_args(live_server, requests, out, issued.api_key,
                                            "--max-credits", str(estimate - 1)))  # fmt: skip
    assert refused.exit_code == 1 and "above --max-credits" in refused.output
    assert live_server.recorder.count("POST", "/api/rest/v1/generations") == submitted

    run_cli(*batch_args(live_server, requests, out, issued.api_key, "--max-credits", str(estimate)))
    assert sum(amount for _, amount in live_server.debits(issued.user_id)) == estimate  # quote == charge


def test_a_variation_line_upscales_a_picture_an_earlier_run_made(
    live_server: LiveServer, tmp_path: Path
) -> None:
    issued = live_server.key("batch-kinds")
    run_cli(*batch_args(live_server, write_lines(tmp_path / "first.jsonl", 1, "base"), tmp_path / "first",
                        issued.api_key))  # fmt: skip
    (base,) = records(tmp_path / "first" / "manifest.jsonl")
    image_id = base["files"][0]["id"]  # a generated image's id, for a variation line
    lines = [
        {"id": "big", "kind": "upscale", "body": {"id": image_id}},
    ]  # fmt: skip
    requests = tmp_path / "kinds.jsonl"
    requests.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "kinds"
    output = run_cli(*batch_args(live_server, requests, out, issued.api_key))
    assert "1 done, 0 failed, 0 refused of 1" in output
    by_id = {r["id"]: r for r in records(out / "manifest.jsonl")}
    (big,) = by_id["big"]["files"]
    assert by_id["big"]["kind"] == "upscale" and big["path"] == "files/big-0.png"
    assert Image.open(out / big["path"]).size == (128, 128)  # twice the 64×64 source


def test_a_refused_key_stops_the_run_with_one_clear_error(live_server: LiveServer, tmp_path: Path) -> None:
    requests = write_lines(tmp_path / "requests.jsonl", 20, "nokey")
    before = live_server.recorder.count("POST", "/api/rest/v1/generations", 401)
    result = runner.invoke(app, batch_args(live_server, requests, tmp_path / "out", "sfu_not-a-key",
                                           "--concurrency", "2"))  # fmt: skip
    assert result.exit_code == 1 and "the server refused the API key" in result.output
    assert live_server.recorder.count("POST", "/api/rest/v1/generations", 401) - before <= 2  # not 20
