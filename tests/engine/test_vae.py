"""A catalog entry's own ``vae``: loaded in place of the pipeline's, required for readiness,
recorded in the lineage (the packaged SDXL models name the fp16-safe SDXL VAE)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sfumato.engine import Catalog, Engine, EngineError
from sfumato.engine.weights import weights_fingerprint
from tests.engine.conftest import DEVICE, make_spec, own_vae_catalog

pytestmark = pytest.mark.usefixtures("one_thread")

FP16_FIX = "madebyollin/sdxl-vae-fp16-fix"


def _pixels(image: object) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def test_a_catalog_vae_replaces_the_pipelines_own(engine: Engine, other_vae: Path, tmp_path: Path) -> None:
    own = own_vae_catalog(tmp_path, str(other_vae))
    entry = own.resolve("tiny-sdxl-vae")
    assert entry is not None and entry.vae_kind == "local"
    assert own.is_ready(entry, tmp_path / "models")
    swapped = Engine(own, tmp_path / "models", device=DEVICE)

    replaced = swapped.text_to_image(make_spec(model_key="tiny-sdxl-vae", seeds=(5,)))
    usual = engine.text_to_image(make_spec(model_key="tiny-sdxl", seeds=(5,)))

    # Same tiny SDXL, same seed: only the VAE differs, and so do the pixels.
    assert not np.array_equal(_pixels(replaced.images[0]), _pixels(usual.images[0]))
    # The pipeline holds exactly the VAE from that directory.
    from diffusers import AutoencoderKL

    expected = AutoencoderKL.from_pretrained(str(other_vae)).state_dict()
    loaded = swapped.pipelines.get(entry).vae.state_dict()
    assert expected.keys() == loaded.keys()
    assert all(np.array_equal(expected[k].float().numpy(), loaded[k].float().cpu().numpy()) for k in expected)
    # And they are the pixels of that tiny SDXL assembled by hand with that VAE (the engine's
    # default fast paths keep every pixel within one level of such an eager pipeline).
    import torch
    from diffusers import StableDiffusionXLPipeline

    by_hand = StableDiffusionXLPipeline.from_pretrained(
        str(tmp_path / "models" / "tiny-sdxl-vae"), vae=AutoencoderKL.from_pretrained(str(other_vae))
    ).to(DEVICE)
    by_hand.set_progress_bar_config(disable=True)
    spec = make_spec(model_key="tiny-sdxl-vae", seeds=(5,))
    [image] = by_hand(
        prompt=spec.prompt,
        negative_prompt=spec.negative_prompt,
        guidance_scale=spec.guidance_scale,
        width=spec.width,
        height=spec.height,
        num_inference_steps=spec.steps,
        generator=[torch.Generator("cpu").manual_seed(5)],
    ).images
    assert np.abs(_pixels(image) - _pixels(replaced.images[0])).max() <= 1
    # The lineage says which VAE ran; a model with its own VAE says nothing of one.
    assert replaced.lineage["vae"] == str(other_vae)
    assert replaced.lineage["vae_hash"] == weights_fingerprint(other_vae)
    assert replaced.lineage["weights_hash"] == usual.lineage["weights_hash"]
    assert "vae" not in usual.lineage


def test_a_missing_vae_directory_is_not_ready_and_says_where_it_belongs(tmp_path: Path) -> None:
    absent = tmp_path / "no-vae-here"
    catalog = own_vae_catalog(tmp_path, str(absent))
    entry = catalog.resolve("tiny-sdxl-vae")
    assert entry is not None
    models = tmp_path / "models"
    # A tiny model builds offline, but the VAE it names does not.
    assert not entry.always_ready and not catalog.is_ready(entry, models)
    assert str(absent) in catalog.how_to_obtain(entry)
    with pytest.raises(EngineError, match=r"model tiny-sdxl-vae are not on this machine.*no-vae-here"):
        Engine(catalog, models, device=DEVICE).text_to_image(make_spec(model_key="tiny-sdxl-vae"))
    absent.mkdir()  # a directory without an AutoencoderKL config is no VAE yet
    assert not catalog.is_ready(entry, models)


def test_the_packaged_sdxl_models_use_the_fp16_safe_vae(catalog: Catalog, tmp_path: Path) -> None:
    for key in ("sdxl", "sdxl-inpainting", "sdxl-lightning"):
        entry = catalog.resolve(key)
        assert entry is not None and entry.vae == FP16_FIX and entry.vae_kind == "hub"
        assert FP16_FIX in catalog.how_to_obtain(entry)
    tiny = catalog.resolve("tiny-sdxl")
    assert tiny is not None and tiny.vae == "" and tiny.always_ready
    # The SDXL weights alone are not enough: the fetched VAE's config must be there too.
    sdxl = catalog.resolve("sdxl")
    assert sdxl is not None
    models = tmp_path / "models"
    (models / "sdxl").mkdir(parents=True)
    (models / "sdxl" / "model_index.json").write_text("{}", encoding="utf-8")
    assert not catalog.is_ready(sdxl, models)
    shared = models / "vae--madebyollin--sdxl-vae-fp16-fix"
    shared.mkdir()
    (shared / "config.json").write_text("{}", encoding="utf-8")
    assert catalog.is_ready(sdxl, models)


def test_a_user_catalog_may_keep_the_models_own_vae_or_name_one_beside_it(tmp_path: Path) -> None:
    extra = tmp_path / "catalog.toml"
    extra.write_text('[models.sdxl]\nvae = ""\n[models.sd15]\nvae = "./vaes/mine"\n', encoding="utf-8")
    catalog = Catalog.load(extra=extra)
    sdxl, sd15 = catalog.resolve("sdxl"), catalog.resolve("sd15")
    assert sdxl is not None and sd15 is not None
    assert sdxl.vae == "" and FP16_FIX not in catalog.how_to_obtain(sdxl)
    assert sd15.vae == str(tmp_path / "vaes" / "mine")  # relative to the catalog file


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ('family = "esrgan"\nsource = "tiny:esrgan"\nvae = "a/b"', "image-generation"),
        ('family = "sdxl"\nsource = "a/b"\nvae = "tiny:sdxl"', "AutoencoderKL directory"),
        ('family = "sdxl"\nsource = "a/b"\nvae = "/weights/vae.safetensors"', "AutoencoderKL directory"),
        ('family = "sdxl"\nsource = "a/b"\nvae = 3', "wrong type"),
    ],
)
def test_a_vae_that_cannot_be_one_is_refused(tmp_path: Path, fields: str, message: str) -> None:
    extra = tmp_path / "catalog.toml"
    extra.write_text(f'[models.x]\nid = "6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b"\nname = "x"\n{fields}\n')
    with pytest.raises(EngineError, match=message):
        Catalog.load(extra=extra)
