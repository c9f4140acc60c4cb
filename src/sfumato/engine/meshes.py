"""Meshes: an uploaded file parsed and checked, and given UVs when it has none.

The API server parses a model asset when a request uses it (the bucket received the file
unseen), so a file that is not a mesh, or is larger than the limits, is refused before
anything is charged; the worker parses it again to texture it. trimesh reads OBJ, GLB and
glTF (with embedded buffers); a scene is flattened into one mesh with its transforms.
A mesh without UVs (or with UVs outside the unit square, which a texture cannot hold
without tiling) is unwrapped with xatlas.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from sfumato.engine.errors import EngineError

FORMATS = ("obj", "glb", "gltf")
_UV_SLACK = 1e-4  # UVs this far outside [0, 1] still count as inside (exporters' rounding)


class MeshError(EngineError):
    """The file is not a mesh this server can texture (the request's fault: a 400)."""


@dataclass(frozen=True)
class MeshLimits:
    max_faces: int
    max_vertices: int


@dataclass(frozen=True, eq=False)
class Mesh:
    """Triangles with one UV per vertex: ``vertices`` (V, 3), ``faces`` (F, 3), ``uv`` (V, 2)."""

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray
    generated_uv: bool  # xatlas made the UVs: the texture fits ``vertices``/``uv``, not the upload

    @property
    def face_normals(self) -> np.ndarray:
        corners = self.vertices[self.faces]
        normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        lengths = np.linalg.norm(normals, axis=1, keepdims=True)
        return np.divide(normals, lengths, out=np.zeros_like(normals), where=lengths > 0)

    def to_obj(self) -> bytes:
        """The mesh with its UVs as an OBJ file (what a generated texture maps onto)."""
        return obj_text(self.vertices, self.faces, self.uv).encode()


def obj_text(vertices: np.ndarray, faces: np.ndarray, uv: np.ndarray) -> str:
    """Wavefront OBJ of triangles with one UV per vertex (``f v/vt``, 1-based)."""
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in vertices]
    lines += [f"vt {u:.6f} {v:.6f}" for u, v in uv]
    lines += ["f " + " ".join(f"{i + 1}/{i + 1}" for i in face) for face in faces]
    return "\n".join(lines) + "\n"


def parse(data: bytes, extension: str, limits: MeshLimits) -> Any:
    """The file as a ``trimesh.Trimesh``; :class:`MeshError` when it is no mesh or too large."""
    import trimesh

    if extension not in FORMATS:
        raise MeshError(f"a model asset must be one of {', '.join(FORMATS)}, not {extension!r}")
    try:
        loaded = trimesh.load(io.BytesIO(data), file_type=extension, process=False, force="mesh")
    except Exception as exc:  # every parser's own error: the file is not what it claims
        raise MeshError(f"the model file does not parse as {extension.upper()}: {exc}") from None
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise MeshError(f"the model file holds no triangles (is it really {extension.upper()}?)")
    if len(loaded.faces) > limits.max_faces:
        raise MeshError(f"the mesh has {len(loaded.faces)} faces; at most {limits.max_faces} are allowed")
    if len(loaded.vertices) > limits.max_vertices:
        raise MeshError(
            f"the mesh has {len(loaded.vertices)} vertices; at most {limits.max_vertices} are allowed"
        )
    if not np.isfinite(loaded.vertices).all():
        raise MeshError("the mesh has vertices that are not finite numbers")
    extent = np.ptp(loaded.vertices, axis=0)
    if float(extent.max()) <= 0:
        raise MeshError("the mesh has no extent (all its vertices coincide)")
    return loaded


def load(data: bytes, extension: str, limits: MeshLimits) -> Mesh:
    """The file parsed, checked and with UVs (its own, else xatlas's)."""
    parsed = parse(data, extension, limits)
    vertices = np.asarray(parsed.vertices, dtype=np.float64)
    faces = np.asarray(parsed.faces, dtype=np.int64)
    uv = getattr(parsed.visual, "uv", None)
    if uv is not None and len(uv) == len(vertices) and _in_unit_square(np.asarray(uv, dtype=np.float64)):
        return Mesh(
            vertices=vertices, faces=faces, uv=np.clip(np.asarray(uv, np.float64), 0, 1), generated_uv=False
        )
    return unwrap(vertices, faces)


def unwrap(vertices: np.ndarray, faces: np.ndarray) -> Mesh:
    """UVs by xatlas: vertices split along its seams, one chart per island, packed in [0, 1]²."""
    import xatlas

    mapping, indices, uvs = xatlas.parametrize(vertices.astype(np.float32), faces.astype(np.uint32))
    return Mesh(
        vertices=vertices[mapping],
        faces=np.asarray(indices, dtype=np.int64),
        uv=np.asarray(uvs, dtype=np.float64),
        generated_uv=True,
    )


def _in_unit_square(uv: np.ndarray) -> bool:
    return bool(np.isfinite(uv).all() and uv.min() >= -_UV_SLACK and uv.max() <= 1 + _UV_SLACK)
