"""Engine fixtures: every tiny model is built once per test session, into one directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sfumato.engine import Catalog, Engine, TextToImageSpec
from sfumato.engine.tiny import TINY_FAMILIES, build_tiny

# Tests run on the CPU unless told otherwise (a GPU check sets this to "cuda").
DEVICE = os.environ.get("SFUMATO_TEST_DEVICE", "cpu")


def pytest_configure(config: pytest.Config) -> None:
    # diffusers' schedulers call np.array() on torch tensors, which numpy 2 flags on every
    # scheduler built; it is harmless and not ours to fix.
    config.addinivalue_line(
        "filterwarnings",
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning",
    )


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models directory holding the tiny model of every family, under its catalog key."""
    root = tmp_path_factory.mktemp("engine-models")
    for family in TINY_FAMILIES:
        build_tiny(family, root / f"tiny-{family}")
    return root


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture(scope="session")
def engine(catalog: Catalog, tiny_models_dir: Path) -> Engine:
    """One engine for the session, big enough to keep all three tiny models loaded."""
    return Engine(catalog, tiny_models_dir, device=DEVICE, max_loaded=3)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Fix torch's thread count while pixels are compared: reductions then repeat exactly."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def make_spec(**changes: object) -> TextToImageSpec:
    """A small, fast spec for tiny-sd15; keyword arguments replace its fields."""
    fields: dict[str, object] = {
        "model_key": "tiny-sd15",
        "prompt": "a lighthouse at dusk",
        "negative_prompt": "blurry",
        "width": 64,
        "height": 64,
        "steps": 4,
        "guidance_scale": 7.0,
        "seeds": (42,),
        "scheduler": None,
        "tiling": False,
    }
    fields.update(changes)
    return TextToImageSpec(**fields)  # type: ignore[arg-type]
