"""Video: text-to-video and image-to-video on LTX-Video and Wan, picture animation on SVD.

The denoiser runs as one pipeline call that stops at the latents; the VAE then decodes them
a few latent frames at a time and hands each frame, as an H×W×3 uint8 array, to ``sink``
(the MP4 writer's encoder) before decoding the next. A clip therefore never sits in memory
as decoded pixels, let alone as a list of pictures: only the latents (a few hundred times
smaller) and one chunk of frames at a time.

Chunks are decoded with one latent frame of context on each side (the VAEs' temporal
convolutions look at their neighbours) and only the chunk's own frames are kept, so a chunk
boundary shows no seam a whole-clip decode would not. How a window of latents maps to frames
is the families' rule: the first latent decodes to one frame, each later one to ``step``
frames (8 for LTX-Video, 4 for Wan; SVD's VAE keeps one latent per frame and decodes in
independent chunks, as its pipeline does).

Every run is seeded with its own CPU generator, so the same spec and seed give the same
frames, and the lineage records what reproduces them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sfumato.engine import report
from sfumato.engine.catalog import FRAME_STEP, ModelEntry
from sfumato.engine.errors import EngineError
from sfumato.engine.pipeline_cache import LoadedPipeline
from sfumato.engine.txt2img import _library_versions

if TYPE_CHECKING:
    from PIL.Image import Image

    from sfumato.engine.txt2img import Engine

FrameSink = Callable[[Any], None]  # called with each frame (H×W×3 uint8 numpy array), in order
_MAX_SEED = 2**64 - 1
_CHUNK_LATENTS = 4  # latent frames decoded together (32 frames on LTX-Video, 16 on Wan)
_SVD_CHUNK = 8  # frames SVD's temporal decoder decodes together


@dataclass(frozen=True)
class VideoSpec:
    """One clip: ``frames`` frames of ``width`` × ``height`` at ``fps``, from one seed.

    ``image`` is the first frame to start from (image-to-video; SVD needs one),
    ``end_image`` the last frame to arrive at (LTX-Video's condition pipeline).
    ``motion_bucket`` is SVD's motion conditioning (higher: more motion).
    """

    model_key: str
    prompt: str
    negative_prompt: str | None
    width: int
    height: int
    frames: int
    fps: int
    steps: int
    guidance_scale: float
    seed: int
    image: Image | None = None
    end_image: Image | None = None
    motion_bucket: int | None = None


@dataclass(frozen=True)
class VideoResult:
    """What ran: the frames handed to the sink and how to reproduce them."""

    frames: int
    lineage: dict[str, object]


def check(spec: VideoSpec, entry: ModelEntry) -> None:
    """Refuse what the pipeline would refuse later, in words a client understands."""
    if not entry.generates_video:
        raise EngineError(f"model {entry.key} is a {entry.family} model, not a video model")
    if not 0 <= spec.seed <= _MAX_SEED:
        raise EngineError(f"seed {spec.seed} is outside 0..{_MAX_SEED}")
    size_step, frame_step = entry.video_size_step, FRAME_STEP[entry.family]
    for name, value in (("width", spec.width), ("height", spec.height)):
        if value < size_step or value % size_step:
            raise EngineError(f"{name} {value} must be a positive multiple of {size_step} for {entry.key}")
    if spec.frames < 1 or (spec.frames - 1) % frame_step:
        raise EngineError(f"{entry.key} draws {frame_step}·k + 1 frames; {spec.frames} is not such a count")
    if entry.max_frames and spec.frames > entry.max_frames:
        raise EngineError(f"{entry.key} draws at most {entry.max_frames} frames; asked for {spec.frames}")
    if not 1 <= spec.steps <= entry.max_steps:
        raise EngineError(f"steps must be between 1 and {entry.max_steps} for {entry.key}")
    if spec.image is None and not entry.text_to_video:
        raise EngineError(f"{entry.key} animates a picture; it needs a first frame")
    if spec.image is not None and not entry.image_to_video:
        raise EngineError(f"{entry.key} draws from text only; it cannot start from a picture")
    if spec.end_image is not None and not entry.end_frame:
        raise EngineError(f"{entry.key} cannot be held to a last frame")


def generate(engine: Engine, spec: VideoSpec, sink: FrameSink) -> VideoResult:
    """Draw ``spec``'s clip and hand its frames to ``sink`` one at a time, in order.

    Raises :class:`EngineError`, with a message meant for the job's failure reason, for an
    unknown model, absent weights or parameters the model cannot take.
    """
    entry = engine.catalog.resolve(spec.model_key)
    if entry is None:
        raise EngineError(f"unknown model {spec.model_key!r}")
    check(spec, entry)
    with engine.pipelines.lease(entry) as loaded:
        latents, decode, task = _denoise(loaded, entry, spec)
        count = 0
        for frame in _stream(latents, decode, FRAME_STEP[entry.family]):
            sink(frame)
            count += 1
        lineage = _lineage(spec, loaded, task)
    if count != spec.frames:
        raise EngineError(f"model {entry.key} drew {count} frames instead of {spec.frames}")
    return VideoResult(frames=count, lineage=lineage)


Decode = Callable[[Any], Any]  # a window of latents (1, C, t, h, w) → pixels (1, 3, T, H, W) in [-1, 1]


def _denoise(loaded: LoadedPipeline, entry: ModelEntry, spec: VideoSpec) -> tuple[Any, Decode, str]:
    """Run the denoiser to its latents (1, C, t, h, w); the family's decoder; the task's name."""
    import torch

    generator = torch.Generator("cpu").manual_seed(spec.seed)
    common: dict[str, Any] = {
        "height": spec.height,
        "width": spec.width,
        "num_frames": spec.frames,
        "num_inference_steps": spec.steps,
        "generator": generator,
        "output_type": "latent",
        "callback_on_step_end": report.on_step,
    }
    try:
        with torch.inference_mode():
            if entry.family == "svd":
                return _svd(loaded.pipeline, spec, common)
            if entry.family == "wan":
                return _wan(loaded.pipeline, spec, common)
            return _ltx(loaded.pipeline, spec, common)
    except ValueError as exc:  # diffusers' input checks: the request's fault, say so
        raise EngineError(f"model {loaded.key} refused the request: {exc}") from exc


def _text(spec: VideoSpec) -> dict[str, Any]:
    return {
        "prompt": spec.prompt,
        "negative_prompt": spec.negative_prompt,
        "guidance_scale": spec.guidance_scale,
    }


def _ltx(pipeline: Any, spec: VideoSpec, common: dict[str, Any]) -> tuple[Any, Decode, str]:
    from diffusers import LTXConditionPipeline, LTXImageToVideoPipeline
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

    kwargs = {**common, **_text(spec), "frame_rate": spec.fps}
    if spec.end_image is not None:
        task = "image_to_video" if spec.image is not None else "text_to_video"
        conditions = [LTXVideoCondition(image=spec.end_image, frame_index=spec.frames - 1)]
        if spec.image is not None:
            conditions.insert(0, LTXVideoCondition(image=spec.image, frame_index=0))
        condition = LTXConditionPipeline.from_pipe(pipeline)
        condition.set_progress_bar_config(disable=True)
        latents = condition(conditions=conditions, **kwargs).frames  # unpacked, still normalised
        return _ltx_denormalised(pipeline, latents), _ltx_decoder(pipeline), task + "_end_frame"
    if spec.image is not None:
        runner = LTXImageToVideoPipeline.from_pipe(pipeline)
        runner.set_progress_bar_config(disable=True)
        packed = runner(image=spec.image, **kwargs).frames
        task = "image_to_video"
    else:
        packed = pipeline(**kwargs).frames
        task = "text_to_video"
    t_ratio, s_ratio = pipeline.vae_temporal_compression_ratio, pipeline.vae_spatial_compression_ratio
    latents = pipeline._unpack_latents(
        packed,
        (spec.frames - 1) // t_ratio + 1,
        spec.height // s_ratio,
        spec.width // s_ratio,
        pipeline.transformer_spatial_patch_size,
        pipeline.transformer_temporal_patch_size,
    )
    return _ltx_denormalised(pipeline, latents), _ltx_decoder(pipeline), task


def _ltx_denormalised(pipeline: Any, latents: Any) -> Any:
    vae = pipeline.vae
    return pipeline._denormalize_latents(
        latents, vae.latents_mean, vae.latents_std, vae.config.scaling_factor
    )


def _ltx_decoder(pipeline: Any) -> Decode:
    import torch

    vae = pipeline.vae
    # VAEs conditioned on the decode timestep (LTX-Video 0.9.1 on) decode clean latents at 0.
    timestep = (
        torch.zeros(1, device=vae.device, dtype=vae.dtype) if vae.config.timestep_conditioning else None
    )
    return lambda window: vae.decode(window.to(vae.dtype), timestep, return_dict=False)[0]


def _wan(pipeline: Any, spec: VideoSpec, common: dict[str, Any]) -> tuple[Any, Decode, str]:
    import torch
    from diffusers import WanImageToVideoPipeline

    kwargs = {**common, **_text(spec)}
    if spec.image is not None:
        runner: Any = pipeline  # a Wan 2.1 image-to-video checkpoint runs as it is
        if not isinstance(pipeline, WanImageToVideoPipeline):
            # Wan 2.2's TI2V way: the picture's latent is the first latent frame and the
            # transformer denoises the rest (one model for text and picture, no image encoder).
            runner = WanImageToVideoPipeline.from_pipe(pipeline, expand_timesteps=True)
            runner.set_progress_bar_config(disable=True)
        latents = runner(image=spec.image, **kwargs).frames
        task = "image_to_video"
    else:
        latents = pipeline(**kwargs).frames
        task = "text_to_video"
    vae = pipeline.vae
    z = vae.config.z_dim
    mean = torch.tensor(vae.config.latents_mean).view(1, z, 1, 1, 1).to(latents.device, latents.dtype)
    std = torch.tensor(vae.config.latents_std).view(1, z, 1, 1, 1).to(latents.device, latents.dtype)
    latents = latents * std + mean
    return latents, lambda window: vae.decode(window.to(vae.dtype), return_dict=False)[0], task


def _svd(pipeline: Any, spec: VideoSpec, common: dict[str, Any]) -> tuple[Any, Decode, str]:
    if spec.image is None:
        raise EngineError("Stable Video Diffusion animates a picture; it needs one")
    latents = pipeline(
        image=spec.image,
        fps=max(1, spec.fps - 1),  # SVD is conditioned on fps - 1, as its pipeline documents
        motion_bucket_id=127 if spec.motion_bucket is None else spec.motion_bucket,
        max_guidance_scale=max(1.0, spec.guidance_scale),
        **common,
    ).frames  # (1, frames, C, h, w)
    vae = pipeline.vae
    scale = vae.config.scaling_factor

    def decode(window: Any) -> Any:
        count = window.shape[2]
        flat = window.permute(0, 2, 1, 3, 4).flatten(0, 1) / scale
        pixels = vae.decode(flat.to(vae.dtype), num_frames=count).sample  # (count, 3, H, W)
        return pixels.unsqueeze(0).permute(0, 2, 1, 3, 4)

    return latents.permute(0, 2, 1, 3, 4), decode, "animate_image"


def _stream(latents: Any, decode: Decode, step: int) -> Iterator[Any]:
    """Decode ``latents`` (1, C, t, h, w) a chunk at a time, yielding uint8 H×W×3 frames.

    A window ``[a, b)`` decodes alone to ``1 + step·(b - a - 1)`` frames: the first latent
    to one, each later one to ``step``. A chunk ``[start, end)`` is decoded with a latent of
    context on each side (none for SVD, whose pipeline decodes chunks independently) and
    only its own frames are kept.
    """
    import torch

    count = latents.shape[2]
    chunk, context = (_SVD_CHUNK, 0) if step == 1 else (_CHUNK_LATENTS, 1)
    chunks = -(-count // chunk)
    for index, start in enumerate(range(0, count, chunk)):
        report.stage(report.DECODING, index, chunks)
        end = min(count, start + chunk)
        a, b = max(0, start - context), min(count, end + context)
        with torch.inference_mode():
            pixels = decode(latents[:, :, a:b])
        first = 0 if start == a else 1 + step * (start - a - 1)
        last = 1 + step * (end - 1 - a)
        window = pixels[0, :, first:last]  # (3, T, H, W) in [-1, 1]
        frames_uint8 = ((window.float() / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8)
        yield from frames_uint8.permute(1, 2, 3, 0).cpu().numpy()
        del pixels, window, frames_uint8
    report.stage(report.DECODING, chunks, chunks)


def _lineage(spec: VideoSpec, loaded: LoadedPipeline, task: str) -> dict[str, object]:
    """Everything needed to reproduce the clip, beside its seed and prompt."""
    return {
        "task": task,
        "model_key": loaded.key,
        "weights_hash": loaded.fingerprint,
        "scheduler": type(loaded.pipeline.scheduler).__name__,
        "steps": spec.steps,
        "guidance_scale": spec.guidance_scale,
        "seed": spec.seed,
        "width": spec.width,
        "height": spec.height,
        "frame_count": spec.frames,
        "fps": spec.fps,
        "motion_bucket": spec.motion_bucket,
        "decode_chunk_latents": _SVD_CHUNK
        if loaded.pipeline.__class__.__name__.startswith("StableVideo")
        else _CHUNK_LATENTS,
        "device": loaded.device,
        "dtype": loaded.dtype,
        **_library_versions(),
    }
