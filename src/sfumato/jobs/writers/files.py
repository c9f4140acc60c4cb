"""Opaque files: weights (``.safetensors``) and meshes (``.glb``, ``.gltf``, ``.obj``), stored
as they come, with the content type their extension names."""

from __future__ import annotations

from sfumato.blobs import BlobStore
from sfumato.engine.errors import EngineError
from sfumato.jobs.artifacts import MESH, WEIGHTS, Artifact, ArtifactType
from sfumato.jobs.writers.upload import upload

# extension → (artifact type, content type)
FILE_TYPES: dict[str, tuple[ArtifactType, str]] = {
    "safetensors": (WEIGHTS, "application/octet-stream"),
    "glb": (MESH, "model/gltf-binary"),
    "gltf": (MESH, "model/gltf+json"),
    "obj": (MESH, "model/obj"),
}


def file_type(key: str) -> tuple[ArtifactType, str]:
    """The artifact type and content type of a file stored under ``key``, by its extension."""
    name = key.rsplit("/", 1)[-1]
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in FILE_TYPES:
        known = ", ".join(f".{ext}" for ext in FILE_TYPES)
        raise EngineError(f"cannot store {name!r}: a file output must be one of {known}")
    return FILE_TYPES[extension]


def store_file(blobs: BlobStore, key: str, data: bytes, *, position: int = 0) -> Artifact:
    """Upload ``data`` unchanged under ``key``; its type and content type follow the extension."""
    artifact_type, content_type = file_type(key)
    uploaded = upload(blobs, key, data, content_type)
    return Artifact(
        type=artifact_type,
        blob_key=key,
        content_type=content_type,
        size_bytes=uploaded.size_bytes,
        sha256=uploaded.sha256,
        position=position,
    )
