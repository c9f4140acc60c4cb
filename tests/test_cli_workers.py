"""`sfumato workers`: the fleet as the operator sees it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sfumato.cli import app
from sfumato.store import Database, workers

runner = CliRunner()


def test_workers_lists_each_advertisement(
    settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in settings_env.items():
        monkeypatch.setenv(name, value)
    empty = runner.invoke(app, ["workers"], terminal_width=200)
    assert empty.exit_code == 0 and "gpu-host-1" not in empty.output
    db = Database(settings_env["SFUMATO_DATABASE_URL"])
    with db.transaction() as session:
        workers.advertise(session, workers.Advertisement(
            worker_id="gpu-host-1", hostname="gpu-host", pid=7, device="cuda:0", kinds=["text_to_image"],
            models=None, loaded_models=["sdxl"], free_memory_bytes=40 * 2**30, running_jobs=3))  # fmt: skip
    db.dispose()
    listed = runner.invoke(app, ["workers"], terminal_width=200)
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.output.splitlines() if "gpu-host-1" in line)
    assert all(part in row for part in ("cuda:0", "3", "sdxl", "any", "40.0 GiB"))
