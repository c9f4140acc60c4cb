"""The benchmark commands run end to end at a toy size and print their measured numbers."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sfumato.bench import app
from sfumato.bench.harness import percentile
from sfumato.bench.load_generator import get_request, run_paced

runner = CliRunner()


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_percentiles_take_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50.0, 99.0, 100.0)
    assert percentile([], 50) == 0.0


@pytest.fixture(autouse=True)
def shared_models(monkeypatch: pytest.MonkeyPatch, models_dir: Path) -> None:
    """Benchmarks build the tiny model where SFUMATO_MODELS_DIR says: once for the session."""
    monkeypatch.setenv("SFUMATO_MODELS_DIR", str(models_dir))


def test_bench_batch_prints_each_batch_size_and_its_ratio() -> None:
    output = _run("batch", "--jobs", "4", "--sizes", "1,4", "--accounts", "2")
    rates = re.findall(r"batch size +(\d+): +([\d.]+) jobs/s .* ratio ([\d.]+)", output)
    assert [size for size, _, _ in rates] == ["1", "4"]
    assert rates[0][2] == "1.00" and float(rates[1][1]) > 0


@pytest.mark.slow
def test_bench_submit_accepts_every_request_and_reports_latency() -> None:
    output = _run("submit", "--requests", "60", "--warmup", "10", "--concurrency", "4", "--accounts", "2",
                  "--rounds", "2")  # fmt: skip
    # sfumato and the floor (a bare endpoint validating the same body) each accept every request.
    assert re.search(r"^sfumato: statuses \{200: 60\}; accepted \d+ req/s", output, re.M)
    assert re.search(r"^floor: statuses \{200: 60\}; accepted \d+ req/s", output, re.M)
    assert len(re.findall(r"latency ms: p50 [\d.]+ +p90 [\d.]+ +p99 [\d.]+", output)) == 2
    assert re.search(r"sfumato / floor: [\d.]+ \(throughput\), [\d.]+ \(CPU per request\), p50 ", output)


@pytest.mark.slow
def test_bench_e2e_compares_sfumato_with_a_like_for_like_diffusers_loop() -> None:
    """Batching on, the mode whose loop replays the worker's calls, with clients that wait for
    webhooks (one server; batching off runs the same code with calls of one job)."""
    output = _run("e2e", "--jobs", "6", "--clients", "2", "--latency-jobs", "2", "--batch-size", "4",
                  "--rounds", "1", "--batching", "on", "--notify", "webhook")  # fmt: skip
    assert re.search(r"sfumato: +[\d.]+ jobs/s .* 0\.0 polls/job", output)
    assert re.search(r"diffusers loop: +[\d.]+ jobs/s", output)
    assert re.search(r"ratio sfumato / diffusers, batching on: [\d.]+", output)
    assert "clients wait for webhooks" in output
    # The loop makes the calls the worker made: six jobs, not all of one image each.
    calls = re.search(r"batching on — pipeline calls of each batch size, both sides: (.+)", output)
    assert calls is not None and re.search(r"×[2-4]", calls.group(1)), output
    assert re.search(r"claim latency .* p50 [\d.]+ .* \(n=2\)", output)


def test_open_loop_load_counts_latency_from_each_requests_scheduled_time() -> None:
    """A server slower than the offered rate: later requests wait for the one connection,
    and that wait shows in their latency instead of slowing the offered load."""

    def answer_slowly(port_box: list[int], ready: threading.Event, stop: threading.Event) -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while not stop.is_set():
                try:
                    await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    break
                await asyncio.sleep(0.05)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
            writer.close()

        async def main() -> None:
            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            port_box.append(server.sockets[0].getsockname()[1])
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.02)
            server.close()

        asyncio.run(main())

    port_box: list[int] = []
    ready, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=answer_slowly, args=(port_box, ready, stop), daemon=True)
    thread.start()
    assert ready.wait(10)
    request = get_request(port_box[0], "/")
    result = run_paced(port_box, [request] * 10, rate=100, connections=1)
    stop.set()
    thread.join(5)
    assert result.statuses == {200: 10}
    # Offered over 0.09 s, served one per 0.05 s: the last waits for the nine before it.
    assert result.latencies[-1] >= 0.4
    assert result.latencies[0] < 0.2
    assert result.seconds >= 0.5


@pytest.mark.slow
def test_bench_video_compares_sfumato_with_a_direct_call_and_reports_memory() -> None:
    output = _run("video", "--clips", "2", "--rounds", "1", "--memory-frames", "9", "--memory-size", "64")
    assert re.search(r"sfumato: +[\d.]+ clips/s", output)
    assert re.search(r"direct: +[\d.]+ clips/s", output)
    assert re.search(r"ratio sfumato / direct: [\d.]+", output)
    assert re.search(r"streamed +[\d.]+ MiB peak", output) and re.search(r"held +[\d.]+ MiB peak", output)


def test_bench_video_refuses_a_frame_count_its_model_cannot_draw_before_starting() -> None:
    result = runner.invoke(app, ["video", "--memory-frames", "5"])
    said = " ".join(result.output.replace("│", " ").split())  # the error box wraps its lines
    assert result.exit_code == 2 and "8·k + 1 frames; 5 is not such a count" in said


def test_bench_train_prints_both_rates_and_their_ratio() -> None:
    output = _run("train", "--steps", "4", "--rounds", "1", "--checkpoint-every", "2")
    job = re.search(r"job system: +([\d.]+) steps/s", output)
    bare = re.search(r"bare peft : +([\d.]+) steps/s", output)
    ratio = re.search(r"ratio job system / bare: ([\d.]+)", output)
    assert job and bare and ratio and float(job.group(1)) > 0 and float(bare.group(1)) > 0


def test_the_webhook_receiver_lets_clients_wait_for_completions_instead_of_polling() -> None:
    import httpx

    from sfumato.bench.webhook_receiver import receiver

    def event(generation_id: str, kind: str) -> dict[str, object]:
        return {"type": f"image_generation.{kind}", "data": {"object": {"id": generation_id}}}

    with receiver() as hooks, httpx.Client() as client:
        for generation_id in ("a", "b"):
            assert client.post(hooks.url, json=event(generation_id, "complete")).status_code == 200
        ticks: list[int] = []
        hooks.wait(["a", "b"], lambda: ticks.append(1), timeout=5)
        assert len(ticks) == 2 and hooks.events == 2
        client.post(hooks.url, json=event("c", "failed"))
        with pytest.raises(RuntimeError, match="generation c ended FAILED"):
            hooks.wait(["c"], lambda: None, timeout=5)
        with pytest.raises(RuntimeError, match="no webhook for 1 generation"):
            hooks.wait(["never"], lambda: None, timeout=0.05)
