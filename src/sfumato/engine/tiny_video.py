"""Tiny, randomly initialised video pipelines, built offline from configs.

Shaped like the real families at a few thousand parameters, following the smallest configs
diffusers' own pipeline tests build, with the real models' compression where it decides what
a request may ask for:

* ``ltx-video``: LTX-Video's VAE maps 32×32 pixels and 8 frames to one latent (frame counts
  8k+1, sizes multiples of 32), a one-layer transformer, a tiny T5 and a byte tokenizer.
* ``wan``: Wan 2.1/2.2's VAE maps 8×8 pixels and 4 frames to one latent (frame counts 4k+1,
  sizes multiples of 16 with the transformer's 2×2 patches), a two-layer transformer and a
  tiny UMT5.
* ``svd``: Stable Video Diffusion's spatio-temporal UNet, temporal-decoder VAE and CLIP
  vision encoder (no text at all); one latent per frame, sizes multiples of 8.

The caller (``tiny.build_tiny``) saves them with ``save_pretrained`` so they load back through
the same ``from_pretrained`` path as real weights. Every component seeds torch itself, so the
files are byte-identical from one build to the next.
"""

from __future__ import annotations

from typing import Any

from sfumato.engine.tiny_text import T5_WIDTH, byte_tokenizer, t5_encoder

LTX, WAN, SVD = "ltx-video", "wan", "svd"
_SEED = 20261202


def build_video_pipeline(family: str) -> Any:
    """The tiny pipeline of a video ``family`` (torch's random state is the caller's to fork)."""
    if family == LTX:
        return _ltx()
    if family == WAN:
        return _wan()
    return _svd()


def _ltx() -> Any:
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    torch.manual_seed(_SEED)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=1,
        caption_channels=T5_WIDTH,
    )
    torch.manual_seed(_SEED + 1)
    # patch_size 4 and three spatio-temporal halvings: 32× in space, 8× in time, like the real VAE.
    vae = AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True, False),
        decoder_spatio_temporal_scaling=(True, True, True, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=False,
        patch_size=4,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    return LTXPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=t5_encoder(seed=_SEED + 2),
        tokenizer=byte_tokenizer(),
        transformer=transformer,
    )


def _wan() -> Any:
    import torch
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanPipeline,
        WanTransformer3DModel,
    )

    torch.manual_seed(_SEED + 10)
    vae = AutoencoderKLWan(
        base_dim=3,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    )
    torch.manual_seed(_SEED + 11)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=16,
        out_channels=16,
        text_dim=T5_WIDTH,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
    return WanPipeline(
        tokenizer=byte_tokenizer(),
        text_encoder=t5_encoder(seed=_SEED + 12, umt5=True),
        vae=vae,
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
    )


def _svd() -> Any:
    import torch
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(_SEED + 20)
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=8,
        out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=32,
        num_attention_heads=8,
        projection_class_embeddings_input_dim=96,
        addition_time_embed_dim=32,
    )
    torch.manual_seed(_SEED + 21)
    # Four blocks: 8×8 pixels per latent, like the real VAE.
    vae = AutoencoderKLTemporalDecoder(
        block_out_channels=[32, 32, 32, 32],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 4,
        layers_per_block=1,
        latent_channels=4,
    )
    torch.manual_seed(_SEED + 22)
    image_encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32,
            projection_dim=32,
            num_hidden_layers=5,
            num_attention_heads=4,
            # The pipeline resizes the picture to 224×224 for CLIP; 14-pixel patches keep that
            # to 256 tokens.
            image_size=224,
            intermediate_size=37,
            patch_size=14,
        )
    )
    return StableVideoDiffusionPipeline(
        vae=vae,
        image_encoder=image_encoder,
        unet=unet,
        scheduler=EulerDiscreteScheduler(
            beta_start=0.00085,
            beta_end=0.012,
            beta_schedule="scaled_linear",
            interpolation_type="linear",
            num_train_timesteps=1000,
            prediction_type="v_prediction",
            sigma_max=700.0,
            sigma_min=0.002,
            steps_offset=1,
            timestep_spacing="leading",
            timestep_type="continuous",
            use_karras_sigmas=True,
        ),
        feature_extractor=CLIPImageProcessor(crop_size=32, size=32),
    )
