"""Weight fingerprints and variant detection."""

from __future__ import annotations

from pathlib import Path

from sfumato.engine.weights import detect_variant, weight_variant, weights_fingerprint


def _fake_model(root: Path, unet_bytes: bytes = b"1234") -> Path:
    (root / "unet").mkdir(parents=True)
    (root / "model_index.json").write_text('{"_class_name": "X"}', encoding="utf-8")
    (root / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(unet_bytes)
    return root


def test_fingerprint_is_stable_and_tracks_weights(tmp_path: Path) -> None:
    a = _fake_model(tmp_path / "a")
    b = _fake_model(tmp_path / "b")
    c = _fake_model(tmp_path / "c", unet_bytes=b"123456")
    assert weights_fingerprint(a) == weights_fingerprint(b)
    assert weights_fingerprint(a) != weights_fingerprint(c)
    assert len(weights_fingerprint(a)) == 16


def test_fingerprint_of_a_single_file(tmp_path: Path) -> None:
    checkpoint = tmp_path / "model.safetensors"
    checkpoint.write_bytes(b"abc")
    assert len(weights_fingerprint(checkpoint)) == 16


def test_weight_variant_names() -> None:
    assert weight_variant("unet/diffusion_pytorch_model.fp16.safetensors") == "fp16"
    assert weight_variant("diffusion_pytorch_model.fp16-00001-of-00002.safetensors") == "fp16"
    assert weight_variant("diffusion_pytorch_model-00001-of-00002.safetensors") is None
    assert weight_variant("model.safetensors") is None
    assert weight_variant("pytorch_model.non_ema.bin") == "non_ema"


def test_detect_variant(tmp_path: Path) -> None:
    plain = _fake_model(tmp_path / "plain")
    assert detect_variant(plain) is None
    half = _fake_model(tmp_path / "half")
    (half / "unet" / "diffusion_pytorch_model.safetensors").rename(
        half / "unet" / "diffusion_pytorch_model.fp16.safetensors"
    )
    assert detect_variant(half) == "fp16"
