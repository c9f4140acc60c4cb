"""Today's transformer families for benchmarks/gpu.py: FLUX.1 [schnell] and SD 3.5 Medium.

Like the SD configs in gpu.py, the configs below are those the released checkpoints ship
(black-forest-labs/FLUX.1-schnell, stabilityai/stable-diffusion-3.5-medium), written out so
nothing is downloaded; the weights are random, so the arithmetic, the latency and the memory
are the real models' and the pictures are noise. T5 reads the byte-level tokenizer of
sfumato's tiny models: a prompt's token count differs from the real tokenizer's, but every
call pads T5 to its full sequence length, so the work does not.

The *analytic floor* of a call is the FLOPs it must do, divided by the device's peak dense
bf16/fp16 rate: every matrix product of every ``nn.Linear`` and ``nn.Conv2d`` (counted by
hooks during one call) plus the attention products (counted by wrapping
``scaled_dot_product_attention``: 4·B·H·Lq·Lk·D). Measured seconds over that floor is how far
from the hardware's limit a call runs; 1.0 would be every multiplier busy all the time.
"""

from __future__ import annotations

from typing import Any

MODELS = ("flux-schnell", "sd35-medium")
RESOLUTION = {"flux-schnell": 1024, "sd35-medium": 1024}
DEFAULT_STEPS = {"flux-schnell": 4, "sd35-medium": 40}
# What each model card calls the pipeline with, beside prompt, size, steps and generators.
CALL_KWARGS: dict[str, dict[str, Any]] = {
    "flux-schnell": {"guidance_scale": 0.0, "max_sequence_length": 256},
    "sd35-medium": {"guidance_scale": 4.5, "max_sequence_length": 256},
}
TINY_FAMILY = {"flux-schnell": "flux-schnell", "sd35-medium": "sd3"}

# black-forest-labs/FLUX.1-schnell, transformer/config.json
FLUX_SCHNELL_TRANSFORMER = {
    "attention_head_dim": 128,
    "axes_dims_rope": [16, 56, 56],
    "guidance_embeds": False,
    "in_channels": 64,
    "joint_attention_dim": 4096,
    "num_attention_heads": 24,
    "num_layers": 19,
    "num_single_layers": 38,
    "patch_size": 1,
    "pooled_projection_dim": 768,
}
# FLUX.1's VAE (16 latent channels, no quant convs)
FLUX_VAE = {
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 16,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 1024,
    "scaling_factor": 0.3611,
    "shift_factor": 0.1159,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "use_post_quant_conv": False,
    "use_quant_conv": False,
}
# stabilityai/stable-diffusion-3.5-medium, transformer/config.json (MMDiT-X)
SD35_MEDIUM_TRANSFORMER = {
    "attention_head_dim": 64,
    "caption_projection_dim": 1536,
    "dual_attention_layers": list(range(13)),
    "in_channels": 16,
    "joint_attention_dim": 4096,
    "num_attention_heads": 24,
    "num_layers": 24,
    "out_channels": 16,
    "patch_size": 2,
    "pooled_projection_dim": 2048,
    "pos_embed_max_size": 384,
    "qk_norm": "rms_norm",
    "sample_size": 128,
}
SD3_VAE = {**FLUX_VAE, "scaling_factor": 1.5305, "shift_factor": 0.0609}
# google/t5-v1_1-xxl encoder (text_encoder_2 of FLUX, text_encoder_3 of SD 3.5)
T5_XXL = {
    "d_ff": 10240,
    "d_kv": 64,
    "d_model": 4096,
    "dense_act_fn": "gelu_new",
    "feed_forward_proj": "gated-gelu",
    "num_heads": 64,
    "num_layers": 24,
    "relative_attention_max_distance": 128,
    "relative_attention_num_buckets": 32,
    "vocab_size": 32128,
}
# FLUX.1 [schnell] lacks [dev]'s guidance embedder (10,229,760 parameters).
REAL_PARAMS = {
    "flux-schnell": {
        "transformer": 11_891_178_560,
        "text_encoder_2": 4_762_310_656,
        "text_encoder": 123_060_480,
    },
    "sd35-medium": {
        "text_encoder_3": 4_762_310_656,
        "text_encoder": 123_650_304,
        "text_encoder_2": 694_659_840,
    },
}
# Peak dense bf16/fp16 tensor-core TFLOPS by GPU name (datasheets, without sparsity).
PEAK_TFLOPS = {
    "H200": 989.0,
    "H100 80GB HBM3": 989.0,  # SXM
    "H100 PCIe": 756.0,
    "H100": 989.0,
    "A100": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "RTX 4090": 165.0,
    "A10": 125.0,
}


def peak_flops(gpu_name: str | None, override_tflops: float | None) -> float | None:
    """The device's peak dense half-precision rate in FLOP/s, or None when unknown."""
    if override_tflops:
        return override_tflops * 1e12
    if not gpu_name:
        return None
    for name, tflops in PEAK_TFLOPS.items():  # most specific names first
        if name in gpu_name:
            return tflops * 1e12
    return None


def build(model: str, tiny: bool, seed: int, device: str, clip: dict[str, Any]) -> Any:
    """``model``'s pipeline with random weights, built on ``device`` (real size unless tiny).

    ``clip`` holds gpu.py's CLIP-L and bigG text configs (``"l"``, ``"bigg"``) and its
    offline CLIP tokenizer factory (``"tokenizer"``).
    """
    if tiny:
        from sfumato.engine.tiny_families import BUILDERS

        return BUILDERS[TINY_FAMILY[model]]()
    import torch
    from diffusers import (
        AutoencoderKL,
        FlowMatchEulerDiscreteScheduler,
        FluxPipeline,
        FluxTransformer2DModel,
        SD3Transformer2DModel,
        StableDiffusion3Pipeline,
    )
    from transformers import (
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTextModelWithProjection,
        T5Config,
        T5EncoderModel,
    )

    from sfumato.engine.tiny_text import byte_tokenizer

    on = torch.device(device)
    if model == "flux-schnell":
        scheduler = FlowMatchEulerDiscreteScheduler(shift=1.0)
        with on:
            torch.manual_seed(seed)
            transformer = FluxTransformer2DModel(**FLUX_SCHNELL_TRANSFORMER)
            torch.manual_seed(seed + 1)
            vae = AutoencoderKL(**FLUX_VAE)
            torch.manual_seed(seed + 2)
            clip_l = CLIPTextModel(CLIPTextConfig(**clip["l"]))
            torch.manual_seed(seed + 3)
            t5 = T5EncoderModel(T5Config(**T5_XXL))
        return FluxPipeline(
            scheduler=scheduler,
            vae=vae,
            text_encoder=clip_l,
            tokenizer=clip["tokenizer"](),
            text_encoder_2=t5,
            tokenizer_2=byte_tokenizer(max_length=512),
            transformer=transformer,
        )
    if model == "sd35-medium":
        scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0)
        with on:
            torch.manual_seed(seed)
            transformer = SD3Transformer2DModel(**SD35_MEDIUM_TRANSFORMER)
            torch.manual_seed(seed + 1)
            vae = AutoencoderKL(**SD3_VAE)
            torch.manual_seed(seed + 2)
            clip_l = CLIPTextModelWithProjection(CLIPTextConfig(**clip["l"]))
            torch.manual_seed(seed + 3)
            clip_g = CLIPTextModelWithProjection(CLIPTextConfig(**clip["bigg"]))
            torch.manual_seed(seed + 4)
            t5 = T5EncoderModel(T5Config(**T5_XXL))
        return StableDiffusion3Pipeline(
            scheduler=scheduler,
            vae=vae,
            text_encoder=clip_l,
            tokenizer=clip["tokenizer"](),
            text_encoder_2=clip_g,
            tokenizer_2=clip["tokenizer"](),
            text_encoder_3=t5,
            tokenizer_3=byte_tokenizer(max_length=512),
            transformer=transformer,
        )
    raise ValueError(f"unknown model {model!r}")


def count_flops(pipe: Any, call: Any) -> float:
    """FLOPs of ``call()`` on ``pipe``: linear and convolution products by forward hooks,
    attention products by wrapping ``scaled_dot_product_attention`` for the call."""
    import torch
    import torch.nn.functional as functional

    total = [0.0]

    def linear(module: Any, inputs: Any, _output: Any) -> None:
        total[0] += 2.0 * inputs[0].numel() * module.out_features

    def conv(module: Any, _inputs: Any, output: Any) -> None:
        kernel = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        total[0] += 2.0 * output.numel() * kernel

    hooks = []
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            for module in component.modules():
                if isinstance(module, torch.nn.Linear):
                    hooks.append(module.register_forward_hook(linear))
                elif isinstance(module, torch.nn.Conv2d):
                    hooks.append(module.register_forward_hook(conv))
    original = functional.scaled_dot_product_attention

    def attention(query: Any, key: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        *batch, queries, depth = query.shape
        total[0] += 4.0 * float(torch.tensor(batch).prod()) * queries * key.shape[-2] * depth
        return original(query, key, value, *args, **kwargs)

    functional.scaled_dot_product_attention = attention
    try:
        call()
    finally:
        functional.scaled_dot_product_attention = original
        for hook in hooks:
            hook.remove()
    return total[0]
