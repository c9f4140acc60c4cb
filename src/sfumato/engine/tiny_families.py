"""Tiny pipelines of today's image families, built offline from configs like ``tiny.py``'s.

FLUX.1 ([schnell], [dev], Kontext), Stable Diffusion 3.5 and Qwen-Image are transformer
denoisers over flow-matching schedulers; SDXL-Lightning is SDXL sampled in a few trailing
steps. Each tiny model has the real one's components and wiring — FLUX's CLIP + T5 pair and
packed 2×2 latents, SD3's two CLIPs + T5 padded to one width, Qwen-Image's Qwen2.5-VL text
encoder and its causal 3-D VAE — at the smallest sizes diffusers' own pipeline tests use,
with two changes: the VAEs keep the real 8× reduction (so an SDK-default 1024×768 request
stays cheap, see ``tiny.py``) and the tokenizers are the byte-level ones of ``tiny_text``
(nothing is fetched). Their pixels are noise.

``tiny.py`` dispatches here for the family names in :data:`BUILDERS`; this module imports
``tiny.py``'s CLIP helpers lazily, so neither imports the other at load time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sfumato.engine.tiny_text import T5_WIDTH, byte_tokenizer, t5_encoder

_SEED = 20251121
_CLIP_WIDTH = 16  # tiny.py's CLIP hidden size (and projection size)
_LATENT = 4  # latent channels of the tiny VAEs (16 in the real FLUX, SD3 and Qwen VAEs)
_SD3_LATENT = 16  # SD3's inpainting pipeline insists on the real 16
_T5_TOKENS = 128  # T5 sequence length of the tiny pipelines (512 and 256 in the real ones)
_QWEN_WIDTH = 16
_QWEN_TOKENS = 128


def _flux(*, guidance_embeds: bool, kontext: bool = False) -> Any:
    import torch
    from diffusers import FluxKontextPipeline, FluxPipeline, FluxTransformer2DModel

    torch.manual_seed(_SEED)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=4 * _LATENT,  # the 2×2-packed latent
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=T5_WIDTH,
        pooled_projection_dim=_CLIP_WIDTH,
        guidance_embeds=guidance_embeds,
        axes_dims_rope=(4, 4, 8),
    )
    pipeline_class = FluxKontextPipeline if kontext else FluxPipeline
    return pipeline_class(
        scheduler=_flow_scheduler(dynamic=guidance_embeds),
        vae=_vae(),
        text_encoder=_clip(1, with_projection=False),
        tokenizer=_clip_tokenizer(),
        text_encoder_2=t5_encoder(seed=_SEED + 2),
        tokenizer_2=byte_tokenizer(max_length=_T5_TOKENS),
        transformer=transformer,
    )


def _sd3() -> Any:
    import torch
    from diffusers import SD3Transformer2DModel, StableDiffusion3Pipeline

    torch.manual_seed(_SEED + 10)
    transformer = SD3Transformer2DModel(
        sample_size=32,
        patch_size=2,
        in_channels=_SD3_LATENT,
        out_channels=_SD3_LATENT,
        num_layers=1,
        attention_head_dim=8,
        num_attention_heads=4,
        caption_projection_dim=32,
        joint_attention_dim=T5_WIDTH,  # both CLIPs' hidden states side by side, padded to T5's
        pooled_projection_dim=2 * _CLIP_WIDTH,
    )
    return StableDiffusion3Pipeline(
        scheduler=_flow_scheduler(dynamic=False, shift=3.0),
        vae=_vae(latent_channels=_SD3_LATENT),
        text_encoder=_clip(1, with_projection=True),
        tokenizer=_clip_tokenizer(),
        text_encoder_2=_clip(2, with_projection=True),
        tokenizer_2=_clip_tokenizer(),
        text_encoder_3=t5_encoder(seed=_SEED + 11),
        tokenizer_3=byte_tokenizer(max_length=_T5_TOKENS),
        transformer=transformer,
    )


def _qwen_image() -> Any:
    import torch
    from diffusers import AutoencoderKLQwenImage, QwenImagePipeline, QwenImageTransformer2DModel
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    vocab = 3 + 256 + 3  # the byte tokenizer's ids, then three vision markers never used here
    text = {
        "hidden_size": _QWEN_WIDTH,
        "intermediate_size": _QWEN_WIDTH,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
        "rope_theta": 1000000.0,
        "vocab_size": vocab,
        "bos_token_id": None,
        "eos_token_id": 1,
        "pad_token_id": 0,
    }
    config = Qwen2_5_VLConfig(
        text_config=text,
        vision_config={
            "depth": 1,
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_heads": 2,
            "out_hidden_size": 16,
        },
        vision_start_token_id=vocab - 3,
        vision_end_token_id=vocab - 2,
        image_token_id=vocab - 1,
        video_token_id=vocab - 1,
    )
    torch.manual_seed(_SEED + 20)
    text_encoder = Qwen2_5_VLForConditionalGeneration(config)
    torch.manual_seed(_SEED + 21)
    transformer = QwenImageTransformer2DModel(
        patch_size=2,
        in_channels=4 * _LATENT,
        out_channels=_LATENT,
        num_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=_QWEN_WIDTH,
        guidance_embeds=False,
        axes_dims_rope=(8, 4, 4),
    )
    torch.manual_seed(_SEED + 22)
    # Three down-samplings (the last two also in time, as in the real one): 8× in space.
    vae = AutoencoderKLQwenImage(
        base_dim=8,
        z_dim=_LATENT,
        dim_mult=[1, 1, 2, 2],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
        latents_mean=[0.0] * _LATENT,
        latents_std=[1.0] * _LATENT,
    )
    return QwenImagePipeline(
        scheduler=_flow_scheduler(dynamic=True),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=byte_tokenizer(max_length=_QWEN_TOKENS),
        transformer=transformer,
    )


def _sdxl_lightning() -> Any:
    """tiny.py's SDXL with SDXL-Lightning's sampler: Euler over trailing timesteps, the
    spacing the distilled few-step schedules were trained on."""
    from diffusers import EulerDiscreteScheduler

    from sfumato.engine.tiny import _sdxl_pipeline

    pipeline = _sdxl_pipeline()
    pipeline.scheduler = EulerDiscreteScheduler.from_config(
        pipeline.scheduler.config, timestep_spacing="trailing"
    )
    return pipeline


def _flow_scheduler(*, dynamic: bool, shift: float = 1.0) -> Any:
    """FLUX [dev] and Qwen-Image shift the schedule by the image's token count; [schnell]
    runs it unshifted; SD3 shifts it by a constant."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    if dynamic:
        return FlowMatchEulerDiscreteScheduler(
            shift=3.0,
            use_dynamic_shifting=True,
            base_shift=0.5,
            max_shift=1.15,
            base_image_seq_len=256,
            max_image_seq_len=4096,
        )
    return FlowMatchEulerDiscreteScheduler(shift=shift)


def _vae(latent_channels: int = _LATENT) -> Any:
    """An AutoencoderKL shaped like FLUX's and SD3's: no quant convs, their shift and scale."""
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(_SEED + 30)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=latent_channels,
        block_out_channels=(4, 8, 8, 8),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=1,
        norm_num_groups=4,
        mid_block_add_attention=False,
        sample_size=64,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.0609,
        scaling_factor=1.5035,
    )


def _clip(seed_offset: int, *, with_projection: bool) -> Any:
    from sfumato.engine.tiny import _text_encoder

    return _text_encoder(seed_offset=seed_offset, with_projection=with_projection)


def _clip_tokenizer() -> Any:
    from sfumato.engine.tiny import _tokenizer

    return _tokenizer()


BUILDERS: dict[str, Callable[[], Any]] = {
    "flux-schnell": lambda: _flux(guidance_embeds=False),
    "flux-dev": lambda: _flux(guidance_embeds=True),
    "flux-kontext": lambda: _flux(guidance_embeds=True, kontext=True),
    "sd3": _sd3,
    "qwen-image": _qwen_image,
    "sdxl-lightning": _sdxl_lightning,
}
