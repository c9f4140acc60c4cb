"""The catalog: what it lists, how ids resolve, where weights live, when a model is ready."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sfumato.engine import Catalog, EngineError

SDK_DEFAULT_MODEL = "b24e16ff-06e3-43eb-8d33-4416c2d75876"


def test_packaged_catalog_lists_platform_and_tiny_models(catalog: Catalog) -> None:
    by_key = {e.key: e for e in catalog.entries()}
    assert {"sd15", "sdxl", "sd-turbo", "tiny-sd15", "tiny-sdxl", "tiny-sd-turbo"} <= set(by_key)
    assert by_key["sd15"].source == "stable-diffusion-v1-5/stable-diffusion-v1-5"
    assert by_key["sdxl"].source == "stabilityai/stable-diffusion-xl-base-1.0"
    turbo = by_key["sd-turbo"]
    assert (turbo.source, turbo.default_steps, turbo.default_guidance) == (
        "stabilityai/sd-turbo",
        1,
        0.0,
    )
    for key in ("tiny-sd15", "tiny-sdxl", "tiny-sd-turbo"):
        assert by_key[key].is_tiny
        assert "noise" in by_key[key].description
    assert not by_key["sdxl"].is_tiny
    assert by_key["sd15"].sd_version == "v1_5"
    assert by_key["sdxl"].sd_version == "SDXL_1_0"


def test_resolve_accepts_key_uuid_and_alias(catalog: Catalog) -> None:
    sdxl = catalog.resolve("sdxl")
    assert sdxl is not None
    assert catalog.resolve(sdxl.id) is sdxl
    assert catalog.resolve(sdxl.id.upper()) is sdxl
    assert catalog.resolve(SDK_DEFAULT_MODEL) is sdxl
    assert catalog.resolve(f" {SDK_DEFAULT_MODEL.upper()} ") is sdxl
    sd15 = catalog.resolve("ac614f96-1082-45bf-be9d-757f2d31c174")  # DreamShaper v7
    assert sd15 is not None and sd15.key == "sd15"
    assert catalog.resolve("00000000-0000-0000-0000-000000000000") is None
    assert catalog.resolve("no-such-model") is None


def test_settings_aliases_override_packaged_ones() -> None:
    catalog = Catalog.load(aliases={SDK_DEFAULT_MODEL: "tiny-sdxl"})
    entry = catalog.resolve(SDK_DEFAULT_MODEL)
    assert entry is not None and entry.key == "tiny-sdxl"


def test_alias_to_an_unknown_model_is_refused() -> None:
    with pytest.raises(EngineError, match="unknown model"):
        Catalog.load(aliases={SDK_DEFAULT_MODEL: "nope"})
    with pytest.raises(EngineError, match="not a UUID"):
        Catalog.load(aliases={"not-a-uuid": "sdxl"})


def test_user_catalog_adds_models_and_changes_fields(tmp_path: Path) -> None:
    extra = tmp_path / "catalog.toml"
    extra.write_text(
        """
[models.sdxl]
source = "./weights/sdxl"

[models.my-sd15]
id = "0f9b7c1e-6f35-4bb1-9d7b-4c1f0c2a7e11"
name = "My SD 1.5"
family = "sd15"
source = "/srv/models/my-sd15.safetensors"

[aliases]
"aa77f04e-3eec-4034-9c07-d0f619684628" = "my-sd15"
""",
        encoding="utf-8",
    )
    catalog = Catalog.load(extra=extra)
    sdxl = catalog.resolve("sdxl")
    assert sdxl is not None
    assert sdxl.source == str((tmp_path / "weights" / "sdxl").resolve())
    assert sdxl.source_kind == "local"
    assert sdxl.name == "Stable Diffusion XL 1.0"  # untouched fields stay
    mine = catalog.resolve("aa77f04e-3eec-4034-9c07-d0f619684628")
    assert mine is not None and mine.key == "my-sd15"
    # Fields a user leaves out come from the family's defaults.
    assert (mine.default_steps, mine.default_width, mine.sd_version) == (30, 512, "v1_5")
    assert catalog.entries()[-1] is mine


def test_missing_user_catalog_is_ignored(tmp_path: Path) -> None:
    catalog = Catalog.load(extra=tmp_path / "absent.toml")
    assert catalog.resolve("sdxl") is not None


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[models.x]\nname = "x"\nfamily = "sd15"\nsource = "a/b"', "lacks id"),
        ('[models.x]\nid = "nope"\nname = "x"\nfamily = "sd15"\nsource = "a/b"', "not a UUID"),
        (
            '[models.x]\nid = "0f9b7c1e-6f35-4bb1-9d7b-4c1f0c2a7e11"\nname = "x"\n'
            'family = "flux"\nsource = "a/b"',
            "family",
        ),
        (
            '[models.x]\nid = "0f9b7c1e-6f35-4bb1-9d7b-4c1f0c2a7e11"\nname = "x"\n'
            'family = "sd15"\nsource = "a/b"\nstepz = 3',
            "unknown fields",
        ),
        (
            '[models.x]\nid = "0f9b7c1e-6f35-4bb1-9d7b-4c1f0c2a7e11"\nname = "x"\n'
            'family = "sd15"\nsource = "a/b"\ndefault_steps = "many"',
            "wrong type",
        ),
        (
            '[models.x]\nid = "2669d552-83e0-4cce-a44d-171986e3d186"\nname = "x"\n'
            'family = "sd15"\nsource = "a/b"',
            "share id",
        ),
        ("[models.x\n", "cannot read"),
    ],
)
def test_malformed_user_catalog_is_refused(tmp_path: Path, table: str, message: str) -> None:
    extra = tmp_path / "catalog.toml"
    extra.write_text(table, encoding="utf-8")
    with pytest.raises(EngineError, match=message):
        Catalog.load(extra=extra)


def test_weights_dir_and_readiness(catalog: Catalog, tmp_path: Path) -> None:
    models = tmp_path / "models"
    sdxl = catalog.resolve("sdxl")
    tiny = catalog.resolve("tiny-sd15")
    assert sdxl is not None and tiny is not None
    assert catalog.weights_dir(sdxl, models) == models / "sdxl"
    assert catalog.weights_dir(tiny, models) == models / "tiny-sd15"
    # Tiny models are buildable offline, so they are ready before anything exists.
    assert catalog.is_ready(tiny, models)
    # A hub model is ready once its model_index.json is there, not before (sdxl also needs
    # its VAE: test_vae.py).
    sd15 = catalog.resolve("sd15")
    assert sd15 is not None
    assert not catalog.is_ready(sd15, models)
    (models / "sd15").mkdir(parents=True)
    assert not catalog.is_ready(sd15, models)
    (models / "sd15" / "model_index.json").write_text("{}", encoding="utf-8")
    assert catalog.is_ready(sd15, models)


def test_local_sources_live_where_they_point(tmp_path: Path) -> None:
    checkpoint = tmp_path / "mine.safetensors"
    extra = tmp_path / "catalog.toml"
    extra.write_text(f'[models.sd15]\nsource = "{checkpoint}"\n', encoding="utf-8")
    catalog = Catalog.load(extra=extra)
    entry = catalog.resolve("sd15")
    assert entry is not None and entry.source_kind == "local"
    assert catalog.weights_dir(entry, tmp_path / "models") == checkpoint
    assert not catalog.is_ready(entry, tmp_path / "models")
    checkpoint.write_bytes(b"weights")
    assert catalog.is_ready(entry, tmp_path / "models")
    assert str(checkpoint) in catalog.how_to_obtain(entry)


def test_how_to_obtain_names_the_pull_command(catalog: Catalog) -> None:
    entry = catalog.resolve("sdxl")
    assert entry is not None
    hint = catalog.how_to_obtain(entry)
    assert "sfumato models pull sdxl" in hint
    assert "catalog.toml" in hint


def test_importing_the_catalog_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import sfumato.engine.catalog\n"
        "from sfumato.engine.catalog import Catalog\n"
        "Catalog.load()\n"
        "import sfumato.engine\n"
        "heavy = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False, env=env
    )
    assert result.returncode == 0, result.stderr
