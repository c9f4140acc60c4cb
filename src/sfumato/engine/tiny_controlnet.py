"""A tiny depth-ControlNet pipeline (SD 1.5-shaped) for texturing, built offline like the others.

It is tiny.py's SD 1.5 pipeline with a ControlNet made from its UNet (diffusers'
``ControlNetModel.from_unet``: the UNet's encoder copied, zero convolutions after each
block), saved as a ``StableDiffusionControlNetPipeline`` so it loads through the same
``from_pretrained`` path as a real SD 1.5 + depth ControlNet directory.
"""

from __future__ import annotations

from typing import Any

_SEED = 20261202


def build_depth_controlnet() -> Any:
    import torch
    from diffusers import ControlNetModel, StableDiffusionControlNetPipeline

    from sfumato.engine.tiny import _sd_pipeline

    base = _sd_pipeline(turbo=False)
    torch.manual_seed(_SEED)
    # Three stride-2 convolutions: the depth image reaches the latent's 8× smaller size.
    controlnet = ControlNetModel.from_unet(base.unet, conditioning_embedding_out_channels=(8, 8, 8, 8))
    return StableDiffusionControlNetPipeline(
        **{name: part for name, part in base.components.items() if name != "image_encoder"},
        controlnet=controlnet,
        requires_safety_checker=False,
    )
