"""The in-process app of tests/api, and one set up to train on the tiny SD 1.5."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sfumato.app import create_app
from sfumato.runtime import build_context
from sfumato.service.keys import issue_key
from tests.api.conftest import Api, api, backend_api, make_settings

__all__ = ["api", "backend_api", "family_trainer", "trainer"]

TINY_BASES = {"v1_5": "tiny-sd15", "SDXL_1_0": "tiny-sd15", "FLUX_DEV": "tiny-sd15"}
# Each family that trains, under the Leonardo sd_version that names it.
FAMILY_BASES = {"v1_5": "tiny-sd15", "SDXL_1_0": "tiny-sdxl", "FLUX_DEV": "tiny-flux-dev", "v3": "tiny-sd3"}


@pytest.fixture
def trainer(database_url: str, tmp_path: Path, models_dir: Path) -> Iterator[Api]:
    """An app whose trainings run on the tiny SD 1.5, a handful of steps each, at 64 px."""
    yield from _trainer(database_url, tmp_path, models_dir, TINY_BASES)


@pytest.fixture
def family_trainer(
    tmp_path: Path, models_dir: Path, new_sqlite_database: Callable[[Path], str]
) -> Iterator[Api]:
    """An app that trains each Leonardo sd_version on its own family's tiny model (SQLite)."""
    yield from _trainer(new_sqlite_database(tmp_path), tmp_path, models_dir, FAMILY_BASES)


def _trainer(database_url: str, tmp_path: Path, models_dir: Path, bases: dict[str, str]) -> Iterator[Api]:
    settings = make_settings(
        database_url,
        tmp_path,
        models_dir,
        training_base_models=bases,
        training_max_steps=12,
        training_checkpoint_steps=5,
        training_suite=["{instance}", "{instance} at night"],
    )
    ctx = build_context(settings)
    with TestClient(create_app(settings, context=ctx)) as client:
        issued = issue_key(ctx, username="alice")
        yield Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id)
