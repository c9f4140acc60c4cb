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


@pytest.fixture(scope="module")
def other_vae(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny AutoencoderKL shaped like tiny-sdxl's, with other random weights, on disk."""
    import torch
    from diffusers import AutoencoderKL

    target = tmp_path_factory.mktemp("vae") / "other-vae"
    config = AutoencoderKL.load_config(str(tiny_models_dir / "tiny-sdxl" / "vae"))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1234)
        AutoencoderKL.from_config(config).save_pretrained(str(target), safe_serialization=True)
    return target


def own_vae_catalog(tmp_path: Path, vae: str) -> Catalog:
    """The packaged catalog plus ``tiny-sdxl-vae``: the tiny SDXL naming ``vae`` as its VAE."""
    extra = tmp_path / "catalog.toml"
    extra.write_text(
        '[models.tiny-sdxl-vae]\nid = "3f0c6a2e-8b1d-4e5f-9a7c-2d4e6f8a0b1c"\nname = "Tiny SDXL, own VAE"\n'
        f'family = "sdxl"\nsource = "tiny:sdxl"\nvae = "{vae}"\ndefault_width = 64\ndefault_height = 64\n',
        encoding="utf-8",
    )
    return Catalog.load(extra=extra)


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
