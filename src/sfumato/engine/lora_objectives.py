"""What a LoRA training teaches each family's denoiser, and how its adapters are saved.

The training loop (``train_lora``) is the same for every family: encode the pictures to
latents once, then at each step noise a latent and teach the denoiser to undo it. What
differs is the denoiser's objective and inputs:

* **UNet families** (SD 1.5, SD-Turbo, SDXL, SDXL-Lightning) learn DDPM's objective: the
  latent is noised at a random discrete timestep and the UNet predicts the noise (or the
  velocity, for v-prediction models). SDXL also takes the prompt's pooled embedding and the
  picture's size and crop as added conditions.
* **Flow-matching transformers** (FLUX.1 [dev] and [schnell], SD 3.5, Qwen-Image) learn the flow: the
  latent is mixed with noise at a random ``sigma`` on the scheduler's training schedule,
  ``(1 - sigma) * latent + sigma * noise``, and the transformer predicts the velocity
  ``noise - latent``. FLUX packs 2×2 latent patches into tokens and embeds the guidance
  scale ([dev]); SD 3.5 takes the latent as it is; Qwen-Image packs its 3-D VAE's one-frame
  latents like FLUX and reads its language-model text encoder's states with their mask.

Each objective also says which modules carry adapters (the denoiser's attention and
feed-forward layers, and optionally the CLIP text encoders) and how diffusers names them in
a saved LoRA file, so the file loads with the family pipeline's ``load_lora_weights``.

Like the catalog, this module imports torch only inside functions: the service asks it
which families train without loading torch.
"""

from __future__ import annotations

from typing import Any

# Attention projections (diffusers' recipe) plus the feed-forward, projection and residual
# convolutions (the "LoCon" extension): on a small UNet the attention alone learns too little.
UNET_TARGETS = [
    "to_k",
    "to_q",
    "to_v",
    "to_out.0",
    "proj_in",
    "proj_out",
    "ff.net.0.proj",
    "ff.net.2",
    "conv1",
    "conv2",
]
# A joint-attention transformer's image and text streams: attention and feed-forward layers.
TRANSFORMER_TARGETS = [
    "to_k",
    "to_q",
    "to_v",
    "to_out.0",
    "add_k_proj",
    "add_q_proj",
    "add_v_proj",
    "to_add_out",
    "ff.net.0.proj",
    "ff.net.2",
    "ff_context.net.0.proj",
    "ff_context.net.2",
]
TEXT_ENCODER_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]
# FLUX.1 [dev]'s training recipe embeds this guidance scale, the model card's default.
FLUX_TRAINING_GUIDANCE = 3.5


class Objective:
    """One family's denoiser, conditioning and loss; subclasses fill in the family's parts."""

    denoiser = "unet"  # the pipeline attribute that carries the adapters
    targets = UNET_TARGETS
    text_encoders: tuple[str, ...] = ("text_encoder",)  # the CLIP encoders that may learn too
    # diffusers' recipe saves UNet adapters in its older naming, transformer ones as peft's
    converts_names = True

    def __init__(self, pipeline: Any, prompt: str, resolution: int, device: str) -> None:
        self.pipeline = pipeline
        self.prompt = prompt
        self.resolution = resolution
        self.device = device

    def latents(self, pixels: Any) -> tuple[Any, Any]:
        """The pictures' latent distribution (mean, std), before scaling."""
        distribution = self.pipeline.vae.encode(pixels).latent_dist
        return distribution.mean, distribution.std

    def scale(self, latents: Any) -> Any:
        config = self.pipeline.vae.config
        shift = getattr(config, "shift_factor", None) or 0.0
        return (latents - shift) * config.scaling_factor

    def conditioning(self) -> dict[str, Any]:
        """The instance prompt's encoding, as the denoiser's keyword arguments for one sample."""
        raise NotImplementedError

    def loss(self, latents: Any, conditioning: dict[str, Any], generator: Any, autocast: Any) -> Any:
        """The step's loss on a batch of scaled latents."""
        raise NotImplementedError


def _batched(conditioning: dict[str, Any], size: int) -> dict[str, Any]:
    """One sample's conditioning repeated over a batch; what has no batch dimension (FLUX's
    token positions) is shared as it is."""
    return {
        name: value.repeat(size, *([1] * (value.dim() - 1))) if name not in _SHARED else value
        for name, value in conditioning.items()
    }


_SHARED = frozenset({"txt_ids", "img_ids"})


class UNetObjective(Objective):
    """DDPM's noise (or velocity) prediction on a UNet conditioned on the prompt's states."""

    def __init__(self, pipeline: Any, prompt: str, resolution: int, device: str) -> None:
        from diffusers import DDPMScheduler

        super().__init__(pipeline, prompt, resolution, device)
        self.noise_scheduler = DDPMScheduler.from_config(pipeline.scheduler.config)

    def conditioning(self) -> dict[str, Any]:
        embeds, _ = self.pipeline.encode_prompt(self.prompt, self.device, 1, False)
        return {"encoder_hidden_states": embeds}

    def loss(self, latents: Any, conditioning: dict[str, Any], generator: Any, autocast: Any) -> Any:
        import torch

        scheduler = self.noise_scheduler
        size = latents.shape[0]
        noise = torch.randn(latents.shape, generator=generator).to(self.device)
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (size,), generator=generator)
        timesteps = timesteps.to(self.device)
        noisy = scheduler.add_noise(latents, noise, timesteps)
        if scheduler.config.prediction_type == "v_prediction":
            target = scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        inputs = self._inputs(conditioning, size)
        with autocast():
            predicted = self.pipeline.unet(noisy, timesteps, **inputs).sample
        return torch.nn.functional.mse_loss(predicted.float(), target.float())

    def _inputs(self, conditioning: dict[str, Any], size: int) -> dict[str, Any]:
        return _batched(conditioning, size)


class SDXLObjective(UNetObjective):
    """SDXL's UNet also takes the pooled prompt embedding and the size/crop conditions."""

    text_encoders = ("text_encoder", "text_encoder_2")

    def conditioning(self) -> dict[str, Any]:
        import torch

        embeds, _, pooled, _ = self.pipeline.encode_prompt(
            self.prompt, device=self.device, do_classifier_free_guidance=False
        )
        side = self.resolution  # original size, crop top-left (0, 0), target size
        time_ids = torch.tensor([[side, side, 0, 0, side, side]], dtype=embeds.dtype, device=self.device)
        return {"encoder_hidden_states": embeds, "text_embeds": pooled, "time_ids": time_ids}

    def _inputs(self, conditioning: dict[str, Any], size: int) -> dict[str, Any]:
        batched = _batched(conditioning, size)
        added = {"text_embeds": batched.pop("text_embeds"), "time_ids": batched.pop("time_ids")}
        return {**batched, "added_cond_kwargs": added}


class FlowObjective(Objective):
    """Flow matching on a transformer: predict ``noise - latent`` from their mixture."""

    denoiser = "transformer"
    targets = TRANSFORMER_TARGETS
    converts_names = False

    def __init__(self, pipeline: Any, prompt: str, resolution: int, device: str) -> None:
        from diffusers import FlowMatchEulerDiscreteScheduler

        super().__init__(pipeline, prompt, resolution, device)
        # A fresh scheduler holds the training schedule: one sigma per training timestep,
        # shifted as the family's config says.
        schedule = FlowMatchEulerDiscreteScheduler.from_config(pipeline.scheduler.config)
        self.train_steps = schedule.config.num_train_timesteps
        self.timesteps = schedule.timesteps.to(device)

    def loss(self, latents: Any, conditioning: dict[str, Any], generator: Any, autocast: Any) -> Any:
        import torch

        size = latents.shape[0]
        noise = torch.randn(latents.shape, generator=generator).to(self.device)
        picks = torch.randint(0, len(self.timesteps), (size,), generator=generator).to(self.device)
        timesteps = self.timesteps[picks]
        sigmas = (timesteps / self.train_steps).view(size, *[1] * (latents.dim() - 1)).to(latents.dtype)
        noisy = (1.0 - sigmas) * latents + sigmas * noise
        with autocast():
            predicted = self._predict(noisy, timesteps, conditioning)
        return torch.nn.functional.mse_loss(predicted.float(), (noise - latents).float())

    def _predict(self, noisy: Any, timesteps: Any, conditioning: dict[str, Any]) -> Any:
        raise NotImplementedError


class FluxObjective(FlowObjective):
    """FLUX.1: latents packed into 2×2 tokens with their positions; [dev] embeds guidance."""

    def __init__(self, pipeline: Any, prompt: str, resolution: int, device: str, *, max_tokens: int) -> None:
        super().__init__(pipeline, prompt, resolution, device)
        self.max_tokens = max_tokens

    def conditioning(self) -> dict[str, Any]:
        embeds, pooled, text_ids = self.pipeline.encode_prompt(
            self.prompt, prompt_2=None, device=self.device, max_sequence_length=self.max_tokens
        )
        return {"encoder_hidden_states": embeds, "pooled_projections": pooled, "txt_ids": text_ids}

    def _predict(self, noisy: Any, timesteps: Any, conditioning: dict[str, Any]) -> Any:
        import torch

        pipeline = self.pipeline
        size, channels, height, width = noisy.shape
        packed = pipeline._pack_latents(noisy, size, channels, height, width)
        positions = pipeline._prepare_latent_image_ids(
            size, height // 2, width // 2, self.device, noisy.dtype
        )
        guidance = None
        if pipeline.transformer.config.guidance_embeds:
            guidance = torch.full((size,), FLUX_TRAINING_GUIDANCE, device=self.device)
        predicted = pipeline.transformer(
            hidden_states=packed,
            timestep=timesteps / 1000,
            guidance=guidance,
            img_ids=positions,
            return_dict=False,
            **_batched(conditioning, size),
        )[0]
        scale = pipeline.vae_scale_factor
        return pipeline._unpack_latents(predicted, height * scale, width * scale, scale)


class SD3Objective(FlowObjective):
    """SD 3.5's transformer: the latent as it is, two CLIPs' pooled embeddings and T5's states."""

    text_encoders = ("text_encoder", "text_encoder_2")

    def conditioning(self) -> dict[str, Any]:
        embeds, _, pooled, _ = self.pipeline.encode_prompt(
            self.prompt, None, None, device=self.device, do_classifier_free_guidance=False
        )
        return {"encoder_hidden_states": embeds, "pooled_projections": pooled}

    def _predict(self, noisy: Any, timesteps: Any, conditioning: dict[str, Any]) -> Any:
        return self.pipeline.transformer(
            hidden_states=noisy,
            timestep=timesteps,
            return_dict=False,
            **_batched(conditioning, noisy.shape[0]),
        )[0]


class QwenImageObjective(FlowObjective):
    """Qwen-Image: its causal 3-D VAE's one-frame latents, normalised per channel, packed
    into 2×2 tokens; the Qwen2.5-VL text encoder's states and their padding mask. Its text
    encoder is a language model and never learns here."""

    text_encoders = ()

    def latents(self, pixels: Any) -> tuple[Any, Any]:
        distribution = self.pipeline.vae.encode(pixels.unsqueeze(2)).latent_dist  # one frame
        return distribution.mean, distribution.std

    def scale(self, latents: Any) -> Any:
        import torch

        config = self.pipeline.vae.config
        shape = (1, config.z_dim, 1, 1, 1)
        mean = torch.tensor(config.latents_mean).view(shape).to(latents.device, latents.dtype)
        std = torch.tensor(config.latents_std).view(shape).to(latents.device, latents.dtype)
        return (latents - mean) / std

    def conditioning(self) -> dict[str, Any]:
        embeds, mask = self.pipeline.encode_prompt(self.prompt, device=self.device)
        both = {"encoder_hidden_states": embeds, "encoder_hidden_states_mask": mask}
        return {name: value for name, value in both.items() if value is not None}  # no mask: no padding

    def _predict(self, noisy: Any, timesteps: Any, conditioning: dict[str, Any]) -> Any:
        pipeline = self.pipeline
        size, channels, _, height, width = noisy.shape
        packed = pipeline._pack_latents(noisy[:, :, 0], size, channels, height, width)
        predicted = pipeline.transformer(
            hidden_states=packed,
            timestep=timesteps / 1000,
            img_shapes=[[(1, height // 2, width // 2)]] * size,
            return_dict=False,
            **_batched(conditioning, size),
        )[0]
        scale = pipeline.vae_scale_factor
        return pipeline._unpack_latents(predicted, height * scale, width * scale, scale)


def _flux(max_tokens: int) -> Any:
    def build(pipeline: Any, prompt: str, resolution: int, device: str) -> Objective:
        return FluxObjective(pipeline, prompt, resolution, device, max_tokens=max_tokens)

    return build


# Family → how its objective is built. FLUX.1 [schnell] reads the 256 T5 tokens it was
# distilled with (the pipeline's fixed argument), [dev] 512.
OBJECTIVES: dict[str, Any] = {
    "sd15": UNetObjective,
    "sd-turbo": UNetObjective,
    "sdxl": SDXLObjective,
    "sdxl-lightning": SDXLObjective,
    "flux-dev": _flux(512),
    "flux-schnell": _flux(256),
    "sd3": SD3Objective,
    "qwen-image": QwenImageObjective,
}
TRAINABLE_FAMILIES = tuple(OBJECTIVES)


def objective_for(family: str, pipeline: Any, prompt: str, resolution: int, device: str) -> Objective:
    built: Objective = OBJECTIVES[family](pipeline, prompt, resolution, device)
    return built
