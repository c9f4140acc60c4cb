"""Texture generation: a model asset's mesh painted from several views into its UV maps.

The payload names the mesh's blob (read and checked again here: the API checked it at
admission, but the bucket holds what the worker reads) and everything the engine needs;
the maps go to PNG blobs under the attempt's own keys, ALBEDO first, then NORMAL. A
preview paints one view and returns that picture alone. A mesh that came without UVs is
unwrapped by xatlas; the unwrapped mesh (the geometry the maps fit) is stored beside them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sfumato.blobs import BlobNotFound, BlobStore
from sfumato.engine import Engine, EngineError, meshes, texturing
from sfumato.jobs.artifacts import MESH, Artifact, Attempt, TaskResult
from sfumato.jobs.kind import JobKind
from sfumato.jobs.texture_subject import TextureSubject
from sfumato.jobs.writers import store_file, store_png
from sfumato.store import model_assets, queue

NAME = "texture"
EVENT = "texture_generation"  # webhook events texture_generation.complete / .failed
ALBEDO, NORMAL = "ALBEDO", "NORMAL"


@dataclass(frozen=True, kw_only=True)
class TexturePayload:
    texture_id: str
    model_key: str
    mesh_key: str
    mesh_extension: str
    max_faces: int
    max_vertices: int
    prompt: str
    negative_prompt: str = ""
    seed: int
    steps: int
    guidance_scale: float
    view_size: int
    texture_size: int
    preview: bool = False
    preview_direction: str = "front"
    rotation_degrees: float = 0.0
    api_key_id: str | None = None  # whose webhook hears of its end

    @property
    def map_types(self) -> tuple[str, ...]:
        """The wire type of each picture output, by position (a preview's view counts as ALBEDO)."""
        return (ALBEDO,) if self.preview else (ALBEDO, NORMAL)


def output_keys(attempt: Attempt, payload: TexturePayload) -> list[str]:
    keys = [model_assets.texture_key(payload.texture_id, attempt.lease, kind) for kind in payload.map_types]
    return [*keys, _mesh_key(attempt, payload)]


def run(engine: Engine, blobs: BlobStore, attempt: Attempt, payload: TexturePayload) -> TaskResult:
    try:
        data = blobs.get(payload.mesh_key)
    except BlobNotFound:
        raise EngineError("the model asset's file is gone (deleted before the job ran)") from None
    limits = meshes.MeshLimits(max_faces=payload.max_faces, max_vertices=payload.max_vertices)
    mesh = meshes.load(data, payload.mesh_extension, limits)
    output = texturing.texture(
        engine,
        texturing.TextureSpec(
            model_key=payload.model_key,
            mesh=mesh,
            prompt=payload.prompt,
            negative_prompt=payload.negative_prompt,
            seed=payload.seed,
            steps=payload.steps,
            guidance_scale=payload.guidance_scale,
            view_size=payload.view_size,
            texture_size=payload.texture_size,
            preview=payload.preview,
            preview_direction=payload.preview_direction,
            rotation_degrees=payload.rotation_degrees,
        ),
    )
    pictures = [output.preview] if payload.preview else [output.albedo, output.normal]
    artifacts: list[Artifact] = []
    for position, (kind, picture) in enumerate(zip(payload.map_types, pictures, strict=True)):
        assert picture is not None
        key = model_assets.texture_key(payload.texture_id, attempt.lease, kind)
        artifacts.append(store_png(blobs, key, picture, position=position, seed=payload.seed))
    if mesh.generated_uv and not payload.preview:
        artifacts.append(
            store_file(blobs, _mesh_key(attempt, payload), mesh.to_obj(), position=len(artifacts))
        )
    return artifacts, output.lineage


def _mesh_key(attempt: Attempt, payload: TexturePayload) -> str:
    return model_assets.texture_key(payload.texture_id, attempt.lease, "mesh").removesuffix(".png") + ".obj"


KIND: JobKind[TexturePayload] = JobKind(
    name=NAME,
    payload=TexturePayload,
    version=1,
    run=run,
    subject=TextureSubject(),
    lane=queue.BATCH,
    models=lambda payload: (payload.model_key,),
    output_keys=output_keys,
    artifacts=("image", MESH),
    event=EVENT,
    subject_id=lambda payload: payload.texture_id,
)
