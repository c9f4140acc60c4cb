"""Tiny, randomly initialised pipelines of each family, built offline from configs.

They make every code path runnable on a CPU with no network: the server, the worker and
the tests load them through the very same ``from_pretrained`` path as real weights, which
is why they are saved to disk rather than kept in memory. Their pixels are noise.

The shapes follow the real models (two text encoders and ``text_time`` conditioning for
SDXL, a trailing-spaced Euler-ancestral scheduler for SD-Turbo) at a few thousand
parameters. The VAE keeps four blocks so that, like the real ones, it maps 8×8 pixels to one
latent: a request at the SDK's default 1024×768 then costs the tiny UNet only 128×96 and
finishes in well under a second per step on one CPU thread.

Builds are deterministic (every component is seeded by a constant) so two machines, or two
runs, produce byte-identical safetensors and the lineage's weight hash means something.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sfumato.engine.errors import EngineError
from sfumato.engine.locks import file_lock
from sfumato.engine.progress import quiet_progress_bars
from sfumato.engine.tiny_families import BUILDERS as FAMILY_BUILDERS

INPAINTING = "-inpainting"  # a family's dedicated inpainting variant: "sd15-inpainting"
TINY_PIPELINES = (
    "sd15",
    "sdxl",
    "sd-turbo",
    "lcm",
    "sd15" + INPAINTING,
    "sdxl" + INPAINTING,
    *FAMILY_BUILDERS,  # today's families (tiny_families.py)
    "depth-controlnet",  # texturing's SD 1.5 + depth ControlNet (tiny_controlnet.py)
)
TINY_UPSCALER = "esrgan"  # one weights file, named after its directory (tiny_tools.py)
TINY_SEGMENTER = "mask2former"  # a transformers directory (tiny_tools.py)
# Video families (tiny_video.py): LTX-Video, Wan, Stable Video Diffusion.
TINY_VIDEO = ("ltx-video", "wan", "svd")
TINY_SAFETY = "safety"  # a transformers image classifier directory (tiny_tools.py)
TINY_FAMILIES = (*TINY_PIPELINES, *TINY_VIDEO, TINY_UPSCALER, TINY_SEGMENTER, TINY_SAFETY)
_SEED = 20240607
_TEXT_HIDDEN = 16
_SDXL_PROJECTION = 16
_SDXL_TIME_EMBED = 8
# SD's scheduler constants (scaled-linear betas), shared by all three families.
_BETAS = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear"}


def build_tiny(family: str, target: Path) -> None:
    """Build the tiny ``family`` pipeline into ``target`` unless it is already there.

    The build goes to a temporary sibling directory that is renamed into place, under an
    exclusive file lock, so a second process waiting on the lock finds a complete model and
    returns, and a crash never leaves a half-written ``target``.
    """
    if family not in TINY_FAMILIES:
        raise EngineError(f"no tiny model for family {family!r}; known: {', '.join(TINY_FAMILIES)}")
    if family in (TINY_UPSCALER, TINY_SEGMENTER, TINY_SAFETY):
        from sfumato.engine.tiny_tools import build_tiny_classifier, build_tiny_segmenter, build_tiny_upscaler

        if family == TINY_SAFETY:
            build_tiny_classifier(target)
        elif family == TINY_UPSCALER:
            build_tiny_upscaler(target / f"{target.name}.safetensors")
        else:
            build_tiny_segmenter(target)
        return
    if (target / "model_index.json").is_file():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(target.parent / f".{target.name}.lock"):
        if (target / "model_index.json").is_file():
            return
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            _build_pipeline(family).save_pretrained(staging, safe_serialization=True)
            if target.exists():  # a leftover without model_index.json: never complete
                shutil.rmtree(target)
            os.replace(staging, target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)


def _build_pipeline(family: str) -> Any:
    """Each component seeds torch itself, so changing one never changes another's weights;
    ``fork_rng`` keeps those seeds from leaking into the caller's random state."""
    import torch

    quiet_progress_bars()
    with torch.random.fork_rng(devices=[]):
        if family in FAMILY_BUILDERS:
            return FAMILY_BUILDERS[family]()
        if family == "depth-controlnet":
            from sfumato.engine.tiny_controlnet import build_depth_controlnet

            return build_depth_controlnet()
        if family in TINY_VIDEO:
            from sfumato.engine.tiny_video import build_video_pipeline

            return build_video_pipeline(family)
        if family.endswith(INPAINTING):
            return _inpainting_pipeline(family.removesuffix(INPAINTING))
        if family == "sdxl":
            return _sdxl_pipeline()
        if family == "lcm":
            return _lcm_pipeline()
        return _sd_pipeline(turbo=family == "sd-turbo")


def _sd_pipeline(*, turbo: bool) -> Any:
    from diffusers import (
        EulerAncestralDiscreteScheduler,
        PNDMScheduler,
        StableDiffusionPipeline,
    )

    scheduler: Any
    if turbo:
        scheduler = EulerAncestralDiscreteScheduler(
            **_BETAS, timestep_spacing="trailing", steps_offset=1, prediction_type="epsilon"
        )
    else:
        scheduler = PNDMScheduler(**_BETAS, skip_prk_steps=True, steps_offset=1)
    return StableDiffusionPipeline(
        unet=_unet(cross_attention_dim=_TEXT_HIDDEN, linear_projection=turbo),
        vae=_vae(),
        text_encoder=_text_encoder(seed_offset=1, with_projection=False),
        tokenizer=_tokenizer(),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def _lcm_pipeline() -> Any:
    """Shaped like LCM Dreamshaper v7: an SD 1.5 UNet that also embeds the guidance scale
    (``time_cond_proj_dim``), an LCMScheduler, saved as a LatentConsistencyModelPipeline."""
    from diffusers import LatentConsistencyModelPipeline, LCMScheduler

    return LatentConsistencyModelPipeline(
        unet=_unet(cross_attention_dim=_TEXT_HIDDEN, linear_projection=False, time_cond_proj_dim=16),
        vae=_vae(),
        text_encoder=_text_encoder(seed_offset=1, with_projection=False),
        tokenizer=_tokenizer(),
        scheduler=LCMScheduler(
            **_BETAS, original_inference_steps=50, set_alpha_to_one=True, steps_offset=1, clip_sample=False
        ),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def _sdxl_pipeline() -> Any:
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline

    return StableDiffusionXLPipeline(
        unet=_unet(
            # The UNet attends to both encoders' hidden states, concatenated.
            cross_attention_dim=2 * _TEXT_HIDDEN,
            linear_projection=True,
            text_time=True,
        ),
        vae=_vae(),
        text_encoder=_text_encoder(seed_offset=1, with_projection=False),
        text_encoder_2=_text_encoder(seed_offset=2, with_projection=True),
        tokenizer=_tokenizer(),
        tokenizer_2=_tokenizer(),
        scheduler=EulerDiscreteScheduler(**_BETAS, steps_offset=1, timestep_spacing="leading"),
        force_zeros_for_empty_prompt=True,
    )


def _inpainting_pipeline(base: str) -> Any:
    """Shaped like the SD 1.5 and SDXL inpainting checkpoints: the base model with a UNet of
    nine input channels (the noisy latent, the mask and the masked picture's latent), so the
    model sees what it must keep; saved as the family's inpainting pipeline."""
    import torch
    from diffusers import (
        StableDiffusionInpaintPipeline,
        StableDiffusionXLInpaintPipeline,
        UNet2DConditionModel,
    )

    components = dict((_sdxl_pipeline() if base == "sdxl" else _sd_pipeline(turbo=False)).components)
    torch.manual_seed(_SEED + 5)
    components["unet"] = UNet2DConditionModel.from_config({**components["unet"].config, "in_channels": 9})
    if base == "sdxl":
        return StableDiffusionXLInpaintPipeline(**components)
    return StableDiffusionInpaintPipeline(**components, requires_safety_checker=False)


def _unet(
    *,
    cross_attention_dim: int,
    linear_projection: bool,
    text_time: bool = False,
    time_cond_proj_dim: int | None = None,
) -> Any:
    import torch
    from diffusers import UNet2DConditionModel

    extra: dict[str, Any] = {}
    if text_time:
        # SDXL conditions on the pooled text embedding plus six size/crop numbers, each
        # embedded with addition_time_embed_dim features.
        extra = {
            "addition_embed_type": "text_time",
            "addition_time_embed_dim": _SDXL_TIME_EMBED,
            "projection_class_embeddings_input_dim": _SDXL_PROJECTION + 6 * _SDXL_TIME_EMBED,
        }
    torch.manual_seed(_SEED)
    return UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        # Attention only at the lowest resolution keeps large requests cheap (self-attention
        # cost grows with the square of the latent's area).
        block_out_channels=(8, 8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
        attention_head_dim=(2, 2, 4),
        cross_attention_dim=cross_attention_dim,
        use_linear_projection=linear_projection,
        time_cond_proj_dim=time_cond_proj_dim,
        **extra,
    )


def _vae() -> Any:
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(_SEED + 10)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(4, 8, 8, 8),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=1,
        norm_num_groups=4,
        # The mid-block attention spans the whole latent; at 1024×768 it would cost more
        # than the rest of a tiny run together.
        mid_block_add_attention=False,
        sample_size=64,
    )


def _text_encoder(*, seed_offset: int, with_projection: bool) -> Any:
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    vocab_size = len(_vocab())
    config = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=_TEXT_HIDDEN,
        intermediate_size=2 * _TEXT_HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=77,
        projection_dim=_SDXL_PROJECTION,
        hidden_act="gelu",
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
    )
    torch.manual_seed(_SEED + 20 + seed_offset)
    model_class = CLIPTextModelWithProjection if with_projection else CLIPTextModel
    return model_class(config)


def _tokenizer() -> Any:
    """A CLIP tokenizer over single byte-level characters: no merges, no download.

    It is written as the ``vocab.json`` + ``merges.txt`` pair that real repositories ship
    and read back with ``from_pretrained``, so the tiny model exercises the same loader.
    """
    from transformers import CLIPTokenizer

    with tempfile.TemporaryDirectory(prefix="sfumato-tokenizer-") as folder:
        root = Path(folder)
        (root / "vocab.json").write_text(json.dumps(_vocab()), encoding="utf-8")
        (root / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
        (root / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 77}), encoding="utf-8")
        return CLIPTokenizer.from_pretrained(str(root))


def _vocab() -> dict[str, int]:
    """Every byte-level character, alone and word-final (``</w>``), then the two markers."""
    chars = _byte_characters()
    tokens = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    return {token: index for index, token in enumerate(tokens)}


def _byte_characters() -> list[str]:
    """The printable stand-in character for each byte, as byte-level BPE defines them.

    Printable Latin-1 bytes stand for themselves; the rest are shifted past 255 so that
    every byte has a visible, non-whitespace character.
    """
    printable = {*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)}
    shifted = 0
    out: list[str] = []
    for byte in range(256):
        if byte in printable:
            out.append(chr(byte))
        else:
            out.append(chr(256 + shifted))
            shifted += 1
    return out
