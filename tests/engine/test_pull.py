"""Choosing what to fetch from a hub repository, and pulling models that need no network."""

from __future__ import annotations

from pathlib import Path

import pytest

from sfumato.engine import Catalog, EngineError
from sfumato.engine import pull as pull_module
from sfumato.engine.pull import pull, select_files, select_segmenter_files, select_vae_files

# The shape of stable-diffusion-v1-5's file list (abridged).
SD15_FILES = [
    ".gitattributes",
    "README.md",
    "model_index.json",
    "v1-5-pruned.safetensors",
    "v1-5-pruned.ckpt",
    "feature_extractor/preprocessor_config.json",
    "safety_checker/config.json",
    "safety_checker/model.safetensors",
    "scheduler/scheduler_config.json",
    "text_encoder/config.json",
    "text_encoder/model.safetensors",
    "text_encoder/model.fp16.safetensors",
    "text_encoder/pytorch_model.bin",
    "text_encoder/flax_model.msgpack",
    "tokenizer/merges.txt",
    "tokenizer/special_tokens_map.json",
    "tokenizer/tokenizer_config.json",
    "tokenizer/vocab.json",
    "unet/config.json",
    "unet/diffusion_pytorch_model.safetensors",
    "unet/diffusion_pytorch_model.fp16.safetensors",
    "unet/diffusion_pytorch_model.non_ema.safetensors",
    "unet/diffusion_pytorch_model.bin",
    "unet/model.onnx",
    "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors",
    "vae/diffusion_pytorch_model.bin",
]


def test_select_prefers_fp16_safetensors_and_skips_the_rest() -> None:
    assert select_files(SD15_FILES) == [
        "feature_extractor/preprocessor_config.json",
        "model_index.json",
        "scheduler/scheduler_config.json",
        "text_encoder/config.json",
        "text_encoder/model.fp16.safetensors",
        "tokenizer/merges.txt",
        "tokenizer/special_tokens_map.json",
        "tokenizer/tokenizer_config.json",
        "tokenizer/vocab.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors",
    ]


def test_select_keeps_shards_and_falls_back_to_bin() -> None:
    files = [
        "model_index.json",
        "unet/diffusion_pytorch_model.fp16-00001-of-00002.safetensors",
        "unet/diffusion_pytorch_model.fp16-00002-of-00002.safetensors",
        "unet/diffusion_pytorch_model.safetensors.index.fp16.json",
        "unet/diffusion_pytorch_model-00001-of-00002.safetensors",
        "unet/diffusion_pytorch_model-00002-of-00002.safetensors",
        "text_encoder/pytorch_model.bin",
        "text_encoder/pytorch_model.fp16.bin",
    ]
    assert select_files(files) == [
        "model_index.json",
        "text_encoder/pytorch_model.fp16.bin",
        "unet/diffusion_pytorch_model.fp16-00001-of-00002.safetensors",
        "unet/diffusion_pytorch_model.fp16-00002-of-00002.safetensors",
        "unet/diffusion_pytorch_model.safetensors.index.fp16.json",
    ]


def test_select_refuses_a_repository_that_is_not_diffusers() -> None:
    with pytest.raises(EngineError, match=r"model_index\.json"):
        select_files(["model.safetensors", "README.md"])


def test_pull_builds_tiny_models(catalog: Catalog, tmp_path: Path) -> None:
    entry = catalog.resolve("tiny-sd-turbo")
    assert entry is not None
    path = pull(entry, tmp_path)
    assert path == tmp_path / "tiny-sd-turbo"
    assert catalog.is_ready(entry, tmp_path)
    assert (path / "model_index.json").is_file()


def test_pull_checks_local_sources(tmp_path: Path) -> None:
    extra = tmp_path / "catalog.toml"
    extra.write_text('[models.sd15]\nsource = "./nowhere"\n', encoding="utf-8")
    entry = Catalog.load(extra=extra).resolve("sd15")
    assert entry is not None
    with pytest.raises(EngineError, match="not at"):
        pull(entry, tmp_path / "models")
    (tmp_path / "nowhere").mkdir()
    assert pull(entry, tmp_path / "models") == tmp_path / "nowhere"


def test_a_segmenter_repository_gives_its_configs_and_one_set_of_weights() -> None:
    files = ["README.md", "config.json", "preprocessor_config.json", "model.safetensors",
             "pytorch_model.bin", "tf_model.h5", "onnx/model.onnx"]  # fmt: skip
    assert select_segmenter_files(files) == ["config.json", "model.safetensors", "preprocessor_config.json"]
    with pytest.raises(EngineError, match="not a transformers checkpoint"):
        select_segmenter_files(["model.safetensors"])


def test_an_upscaler_is_pulled_from_its_url_into_its_weights_file(tmp_path: Path) -> None:
    import functools
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()
    (served / "4x-mine.pth").write_bytes(b"weights")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        extra = tmp_path / "catalog.toml"
        url = f"http://127.0.0.1:{server.server_address[1]}/4x-mine.pth"
        extra.write_text(
            f'[models.mine]\nid = "9b1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e"\nname = "Mine"\n'
            f'family = "esrgan"\nsource = "{url}"\n'
        )
        catalog = Catalog.load(extra=extra)
        entry = catalog.resolve("mine")
        assert entry is not None and entry.source_kind == "url"
        models = tmp_path / "models"
        assert not catalog.is_ready(entry, models)
        path = pull(entry, models)
        assert path == models / "mine" / "4x-mine.pth" and path.read_bytes() == b"weights"
        assert catalog.is_ready(entry, models)
    finally:
        server.shutdown()
        server.server_close()


# The shape of FLUX.1-schnell's file list (abridged): sharded transformer and T5, a
# SentencePiece tokenizer, and the single-file checkpoints of other tools at the top.
FLUX_FILES = [
    "model_index.json",
    "flux1-schnell.safetensors",
    "ae.safetensors",
    "scheduler/scheduler_config.json",
    "text_encoder/config.json",
    "text_encoder/model.safetensors",
    "text_encoder_2/config.json",
    "text_encoder_2/model-00001-of-00002.safetensors",
    "text_encoder_2/model-00002-of-00002.safetensors",
    "text_encoder_2/model.safetensors.index.json",
    "tokenizer/merges.txt",
    "tokenizer/vocab.json",
    "tokenizer_2/spiece.model",
    "tokenizer_2/tokenizer.json",
    "transformer/config.json",
    "transformer/diffusion_pytorch_model-00001-of-00003.safetensors",
    "transformer/diffusion_pytorch_model-00002-of-00003.safetensors",
    "transformer/diffusion_pytorch_model-00003-of-00003.safetensors",
    "transformer/diffusion_pytorch_model.safetensors.index.json",
    "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors",
]


def test_select_takes_a_flux_repository_s_shards_and_leaves_its_single_files() -> None:
    chosen = select_files(FLUX_FILES)
    assert sorted(set(FLUX_FILES) - set(chosen)) == ["ae.safetensors", "flux1-schnell.safetensors"]


# The shape of madebyollin/sdxl-vae-fp16-fix's file list: diffusers' files and two single-file
# copies for other tools.
FP16_FIX_VAE_FILES = [
    ".gitattributes",
    "README.md",
    "config.json",
    "diffusion_pytorch_model.bin",
    "diffusion_pytorch_model.safetensors",
    "sdxl.vae.safetensors",
    "sdxl_vae.safetensors",
    "images/sdxl-vae-fp16-fix-comparison.png",
]


def test_a_vae_repository_gives_its_config_and_one_set_of_diffusers_weights() -> None:
    assert select_vae_files(FP16_FIX_VAE_FILES) == ["config.json", "diffusion_pytorch_model.safetensors"]
    with pytest.raises(EngineError, match="AutoencoderKL"):
        select_vae_files(["sdxl_vae.safetensors"])


def test_pull_fetches_the_vae_beside_the_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fetched: list[tuple[str, Path, str]] = []

    def fake_download(repo_id: str, target: Path, chooser: object, marker: str) -> None:
        fetched.append((repo_id, target, marker))
        target.mkdir(parents=True, exist_ok=True)
        (target / marker).write_text("{}", encoding="utf-8")

    monkeypatch.setattr(pull_module, "_download", fake_download)
    models = tmp_path / "models"
    catalog = Catalog.load()
    sdxl, inpainting = catalog.resolve("sdxl"), catalog.resolve("sdxl-inpainting")
    assert sdxl is not None and inpainting is not None
    assert pull(sdxl, models) == models / "sdxl"
    shared = models / "vae--madebyollin--sdxl-vae-fp16-fix"
    assert fetched == [
        ("stabilityai/stable-diffusion-xl-base-1.0", models / "sdxl", "model_index.json"),
        ("madebyollin/sdxl-vae-fp16-fix", shared, "config.json"),
    ]
    assert catalog.is_ready(sdxl, models)
    # Another SDXL model naming the same VAE finds it in the same place.
    pull(inpainting, models)
    assert fetched[-1] == ("madebyollin/sdxl-vae-fp16-fix", shared, "config.json")
    assert catalog.is_ready(inpainting, models)


def test_pull_checks_a_local_vae(tmp_path: Path) -> None:
    extra = tmp_path / "catalog.toml"
    extra.write_text('[models.tiny-sdxl]\nvae = "./my-vae"\n', encoding="utf-8")
    entry = Catalog.load(extra=extra).resolve("tiny-sdxl")
    assert entry is not None
    with pytest.raises(EngineError, match=r"VAE of tiny-sdxl is not at .*my-vae"):
        pull(entry, tmp_path / "models")
    (tmp_path / "my-vae").mkdir()
    (tmp_path / "my-vae" / "config.json").write_text("{}", encoding="utf-8")
    assert pull(entry, tmp_path / "models") == tmp_path / "models" / "tiny-sdxl"
