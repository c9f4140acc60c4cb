"""A preview of a run in progress: its running latents decoded by the model's own VAE.

The pipelines hand their latents to the step callback between denoising steps. Decoding
them with the VAE (as the pipeline does after the last step) shows the picture as it
stands: noisy early, close to the result late. Only the first picture of a call is
decoded (one decode per preview, whatever the batch). FLUX.1's latents come packed in 2×2
patches and are unpacked first, as its pipeline does before its own decode; latents of
another shape (Qwen-Image's, a video's) give no preview (None).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL.Image import Image


def decode(pipeline: Any, latents: Any, size: tuple[int, int] | None = None) -> Image | None:
    """The first picture of ``latents`` (batch, channels, height/8, width/8; or FLUX's packed
    batch, patches, channels·4 for a picture of ``size``), or None."""
    import torch

    vae = getattr(pipeline, "vae", None)
    processor = getattr(pipeline, "image_processor", None)
    if vae is None or processor is None or latents is None:
        return None
    if latents.ndim == 3 and size is not None and hasattr(pipeline, "_unpack_latents"):
        latents = pipeline._unpack_latents(latents[:1], size[1], size[0], pipeline.vae_scale_factor)
    if latents.ndim != 4 or latents.shape[1] != vae.config.latent_channels:
        return None
    config = vae.config
    first = latents[:1] / config.scaling_factor + (getattr(config, "shift_factor", None) or 0.0)
    # SDXL's own VAE overflows in float16; its pipeline decodes in float32 and casts back, and
    # so does a preview.
    upcast = vae.dtype == torch.float16 and bool(getattr(config, "force_upcast", False))
    if upcast:
        vae.to(dtype=torch.float32)
    try:
        with torch.no_grad():
            pixels = vae.decode(first.to(vae.dtype), return_dict=False)[0]
    finally:
        if upcast:
            vae.to(dtype=torch.float16)
    return processor.postprocess(pixels.float(), output_type="pil")[0]
