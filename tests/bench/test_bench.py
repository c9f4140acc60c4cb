"""The benchmark commands run end to end at a toy size and print their measured numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sfumato.bench import app
from sfumato.bench.harness import percentile

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
    output = _run("submit", "--requests", "60", "--warmup", "10", "--concurrency", "4", "--accounts", "2")
    assert "statuses: {200: 60}" in output
    assert re.search(r"accepted: \d+ req/s", output)
    assert re.search(r"latency ms: p50 [\d.]+ +p90 [\d.]+ +p99 [\d.]+", output)


@pytest.mark.slow
def test_bench_e2e_compares_sfumato_with_a_diffusers_loop() -> None:
    output = _run("e2e", "--jobs", "6", "--clients", "2", "--latency-jobs", "2", "--batch-size", "4")
    assert re.search(r"sfumato: +[\d.]+ jobs/s", output)
    assert re.search(r"diffusers loop: +[\d.]+ jobs/s", output)
    assert re.search(r"ratio sfumato / diffusers: [\d.]+", output)
    assert re.search(r"claim latency .* p50 [\d.]+ .* \(n=2\)", output)
