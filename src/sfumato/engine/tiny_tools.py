"""Tiny random upscaler, segmenter and safety classifier, built offline like the tiny pipelines.

They stand in for Real-ESRGAN and Mask2Former wherever no weights exist (tests, demos, a CPU
machine with no network): saved to disk and loaded back through the same loaders as real
weights. Builds are seeded, so two machines produce byte-identical files; their pixels (the
upscaler's) and alpha (the segmenter's) are noise.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from sfumato.engine.locks import file_lock

_TINY_LABELS = {0: "person", 1: "cat", 2: "sky-other-merged", 3: "wall-other-merged"}
_SEGMENTER_SEED = 20240612
_UPSCALER_SEED = 20240611
_CLASSIFIER_SEED = 20261202
_SAFETY_LABELS = {0: "normal", 1: "nsfw"}  # as the real checkpoint (nsfw-vit) names its two


def build_tiny_upscaler(target: Path) -> None:
    """A tiny random ×4 ESRGAN (8 filters, one block) saved as safetensors; deterministic."""
    if target.is_file():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(target.parent / f".{target.name}.lock"):
        if target.is_file():
            return
        import torch
        from safetensors.torch import save_file
        from spandrel.architectures.ESRGAN import ESRGAN

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_UPSCALER_SEED)
            network = ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=4)
        state = {k: v.contiguous() for k, v in network.state_dict().items()}
        handle, staging = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(handle)
        try:
            save_file(state, staging)
            os.replace(staging, target)
        finally:
            if os.path.exists(staging):
                os.unlink(staging)


def build_tiny_segmenter(target: Path) -> None:
    """A tiny random Mask2Former (a 4-stage Swin of 8 channels; 115 k parameters) with its
    image processor, saved like a hub checkpoint; two of its four labels are COCO things."""
    if (target / "config.json").is_file():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(target.parent / f".{target.name}.lock"):
        if (target / "config.json").is_file():
            return
        import torch
        from transformers import (
            Mask2FormerConfig,
            Mask2FormerForUniversalSegmentation,
            Mask2FormerImageProcessor,
            SwinConfig,
        )

        backbone = SwinConfig(
            image_size=64,
            patch_size=4,
            embed_dim=8,
            depths=[1, 1, 1, 1],
            num_heads=[1, 1, 2, 2],
            window_size=4,
            out_features=["stage1", "stage2", "stage3", "stage4"],  # type: ignore[call-arg]
        )
        config = Mask2FormerConfig(
            backbone_config=backbone,
            feature_size=32,  # the pixel decoder's group norms need multiples of 32
            mask_feature_size=32,
            hidden_dim=32,
            encoder_feedforward_dim=32,
            dim_feedforward=32,
            encoder_layers=1,
            decoder_layers=2,
            num_attention_heads=2,
            num_queries=8,
            id2label=_TINY_LABELS,
            label2id={name: index for index, name in _TINY_LABELS.items()},
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_SEGMENTER_SEED)
            model = Mask2FormerForUniversalSegmentation(config).eval()
            # The default init gives near-flat masks, hence a flat alpha: spread the class
            # and mask heads so that queries differ and the alpha varies across the picture.
            torch.nn.init.normal_(model.class_predictor.weight, std=0.3)
            torch.nn.init.normal_(model.model.pixel_level_module.decoder.mask_projection.weight, std=1.0)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            processor = Mask2FormerImageProcessor(size={"shortest_edge": 64, "longest_edge": 256})
            processor.save_pretrained(staging)
            model.save_pretrained(staging)
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)


def build_tiny_classifier(target: Path) -> None:
    """A tiny random ViT image classifier (one layer of 16 channels on 32 px) with its image
    processor, labelled like the real safety checkpoint; its scores are noise."""
    if (target / "config.json").is_file():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(target.parent / f".{target.name}.lock"):
        if (target / "config.json").is_file():
            return
        import torch
        from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

        config = ViTConfig(
            image_size=32,
            patch_size=8,
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            id2label=_SAFETY_LABELS,
            label2id={name: index for index, name in _SAFETY_LABELS.items()},
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_CLASSIFIER_SEED)
            model = ViTForImageClassification(config).eval()
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(staging)
            model.save_pretrained(staging)
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
