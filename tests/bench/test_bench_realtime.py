"""``sfumato bench realtime`` runs end to end at a toy size and prints both latencies and their difference."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sfumato.bench import app


@pytest.mark.slow
def test_bench_realtime_prints_endpoint_and_direct_latency(
    monkeypatch: pytest.MonkeyPatch, models_dir: Path
) -> None:
    monkeypatch.setenv("SFUMATO_MODELS_DIR", str(models_dir))  # the session's tiny models
    result = CliRunner().invoke(app, ["realtime", "--requests", "3", "--warmup", "1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {
        name: (float(p50), float(p95))
        for name, p50, p95 in re.findall(
            r"^(POST /generations-lcm|direct LCM call|difference) +([-\d.]+) +([-\d.]+)$", result.output, re.M
        )
    }
    assert set(rows) == {"POST /generations-lcm", "direct LCM call", "difference"}
    assert rows["direct LCM call"][0] > 0
    assert rows["difference"][0] == pytest.approx(
        rows["POST /generations-lcm"][0] - rows["direct LCM call"][0], abs=0.11
    )
    assert re.search(r"endpoint / direct at p50: [\d.]+×", result.output)
