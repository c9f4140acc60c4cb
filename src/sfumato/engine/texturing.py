"""Texturing: a mesh's views painted by a depth ControlNet, projected back into its UV texture.

1. Render each view's depth (and normals) on the CPU by ray casting (``mesh_views``).
2. Paint every view in one pipeline call of a depth-conditioned Stable Diffusion
   (``StableDiffusionControlNetPipeline``), the view's name added to the prompt, one seed
   per view derived from the request's.
3. Project the views' pixels back into the UV texture, each texel weighted by how squarely
   its surface faces each camera, occluded texels getting nothing (``uv_projection``).

The result is an ALBEDO map (RGBA: transparent off the UV islands) and a NORMAL map of the
surface's object-space normals. A preview paints only one view and returns that picture.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sfumato.engine import mesh_views, report, uv_projection
from sfumato.engine.catalog import TEXTURE_FAMILY
from sfumato.engine.errors import EngineError
from sfumato.engine.meshes import Mesh

if TYPE_CHECKING:
    from PIL.Image import Image

    from sfumato.engine import Engine

PREVIEW_DIRECTIONS = mesh_views.SIDES
_SIZE_STEP = 8


@dataclass(frozen=True, kw_only=True)
class TextureSpec:
    model_key: str
    mesh: Mesh
    prompt: str
    negative_prompt: str = ""
    seed: int
    steps: int
    guidance_scale: float
    view_size: int  # pixels per side of each painted view
    texture_size: int  # texels per side of the UV maps
    preview: bool = False
    preview_direction: str = "front"
    rotation_degrees: float = 0.0  # turns the ring of side views (front_rotation_offset)


@dataclass(frozen=True)
class TextureOutput:
    """The maps (a preview: only ``preview``, the painted view) and the run's lineage."""

    albedo: Image | None = None
    normal: Image | None = None
    preview: Image | None = None
    lineage: dict[str, object] = field(default_factory=dict)


def texture(engine: Engine, spec: TextureSpec) -> TextureOutput:
    """Run ``spec``; :class:`EngineError` for what the model or the mesh cannot do."""
    _validate(spec)
    entry = engine.catalog.require(spec.model_key, TEXTURE_FAMILY)
    names = (spec.preview_direction,) if spec.preview else mesh_views.ALL_VIEWS
    cameras = mesh_views.cameras(spec.mesh, names, spec.view_size, spec.rotation_degrees)
    started = time.perf_counter()
    intersector = mesh_views.intersector(spec.mesh)
    renders = [mesh_views.render(spec.mesh, camera, intersector) for camera in cameras]
    render_seconds = time.perf_counter() - started
    with engine.pipelines.lease(entry) as loaded:
        report.stage(report.DENOISING, 0, spec.steps)
        started = time.perf_counter()
        pictures = _paint(loaded.pipeline, spec, renders)
        paint_seconds = time.perf_counter() - started
        lineage: dict[str, object] = {
            "task": "texture",
            "model_key": loaded.key,
            "weights_hash": loaded.fingerprint,
            **loaded.vae_lineage(),
            "scheduler": type(loaded.pipeline.scheduler).__name__,
            "device": loaded.device,
            "dtype": loaded.dtype,
        }
    lineage.update(
        views=list(names),
        view_seeds=[_view_seed(spec.seed, index) for index in range(len(names))],
        steps=spec.steps,
        guidance_scale=spec.guidance_scale,
        view_size=spec.view_size,
        rotation_degrees=spec.rotation_degrees,
        generated_uv=spec.mesh.generated_uv,
        ray_caster=type(intersector).__module__.rsplit(".", 1)[-1],
        render_seconds=round(render_seconds, 4),
        paint_seconds=round(paint_seconds, 4),
    )
    if spec.preview:
        return TextureOutput(preview=pictures[0], lineage=lineage)
    started = time.perf_counter()
    layout = uv_projection.rasterize(spec.mesh, spec.texture_size)
    arrays = [np.asarray(picture.convert("RGB"), dtype=np.float64) for picture in pictures]
    sums, weights = uv_projection.project(layout, list(zip(renders, arrays, strict=True)))
    albedo = uv_projection.bake(layout, sums, weights)
    normal = uv_projection.normal_map(layout)
    covered = len(layout.rows)
    lineage.update(
        texture_size=spec.texture_size,
        island_texels=covered,
        seen_texels=int((weights > 0).sum()),
        project_seconds=round(time.perf_counter() - started, 4),
    )
    from PIL import Image

    return TextureOutput(albedo=Image.fromarray(albedo), normal=Image.fromarray(normal), lineage=lineage)


def _paint(pipeline: Any, spec: TextureSpec, renders: list[mesh_views.ViewRender]) -> list[Image]:
    import torch

    count = len(renders)
    names = [render.camera.name for render in renders]
    generators = [torch.Generator("cpu").manual_seed(_view_seed(spec.seed, i)) for i in range(count)]
    try:
        result = pipeline(
            prompt=[f"{spec.prompt}, {name} view" for name in names],
            negative_prompt=[spec.negative_prompt] * count if spec.negative_prompt else None,
            image=[render.depth_image() for render in renders],
            width=spec.view_size,
            height=spec.view_size,
            num_inference_steps=spec.steps,
            guidance_scale=spec.guidance_scale,
            generator=generators,
            output_type="pil",
            callback_on_step_end=report.on_step,
        )
    except ValueError as exc:  # diffusers' input checks: the request's fault
        raise EngineError(f"the texturing model refused the request: {exc}") from exc
    return list(result.images)


def _view_seed(seed: int, index: int) -> int:
    return (seed + index) % 2**63


def _validate(spec: TextureSpec) -> None:
    if spec.preview and spec.preview_direction not in PREVIEW_DIRECTIONS:
        raise EngineError(f"preview_direction must be one of {', '.join(PREVIEW_DIRECTIONS)}")
    if spec.view_size < _SIZE_STEP or spec.view_size % _SIZE_STEP:
        raise EngineError(f"the view size {spec.view_size} must be a positive multiple of {_SIZE_STEP}")
    if spec.texture_size < 1:
        raise EngineError("the texture size must be positive")
    if spec.steps < 1:
        raise EngineError("at least one step is required")
