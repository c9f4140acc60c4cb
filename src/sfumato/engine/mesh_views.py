"""Views of a mesh rendered on the CPU by ray casting: depth (and normals) per pixel.

Each view is an orthographic camera on one side of the mesh, looking at its centre, its
square image wide enough for the mesh's bounding sphere, so every view of one mesh shares
one scale and a pixel means the same length in all of them. One ray per pixel finds the
first triangle it meets (trimesh's ray intersector: Embree's when embreex is installed,
else its pure-Python one). The depth image follows the ControlNet depth convention: near
is bright, far is dark, empty background is black.

Directions follow glTF's: the front faces +Z, up is +Y. ``front_rotation_offset`` turns
the ring of side views about the vertical axis (degrees), for a mesh whose front is not +Z.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sfumato.engine.meshes import Mesh

if TYPE_CHECKING:
    from PIL.Image import Image

SIDES = ("front", "right", "back", "left")
# Where each camera stands, seen from the mesh's centre, before the rotation offset.
DIRECTIONS: dict[str, tuple[float, float, float]] = {
    "front": (0.0, 0.0, 1.0),
    "right": (1.0, 0.0, 0.0),
    "back": (0.0, 0.0, -1.0),
    "left": (-1.0, 0.0, 0.0),
    "top": (0.0, 1.0, 0.0),
    "bottom": (0.0, -1.0, 0.0),
}
ALL_VIEWS = (*SIDES, "top", "bottom")
_MARGIN = 1.05  # the image spans the bounding sphere and a little room around it
_NEAR_LEVEL, _FAR_LEVEL = 255.0, 40.0  # depth image levels of the nearest and farthest hit


@dataclass(frozen=True, eq=False)
class Camera:
    """An orthographic camera: ``direction`` points from the mesh's centre toward it."""

    name: str
    direction: np.ndarray
    right: np.ndarray
    up: np.ndarray
    center: np.ndarray
    half_extent: float  # half the image side, in the mesh's units
    size: int  # pixels per image side

    @property
    def pixel(self) -> float:
        """One pixel's side, in the mesh's units."""
        return 2 * self.half_extent / self.size

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each point's image column and row (floats, pixel centres at integers) and its depth
        (distance from the image plane, which stands one extent beyond the centre)."""
        relative = points - self.center
        x = relative @ self.right / self.half_extent
        y = relative @ self.up / self.half_extent
        columns = (x + 1) / 2 * self.size - 0.5
        rows = (1 - y) / 2 * self.size - 0.5
        depth = 2 * self.half_extent - relative @ self.direction
        return columns, rows, depth

    def rays(self) -> tuple[np.ndarray, np.ndarray]:
        """One ray per pixel, row by row: origins on the image plane, all along -direction."""
        steps = (np.arange(self.size) + 0.5) / self.size * 2 - 1
        xs, ys = np.meshgrid(steps, -steps)
        plane = self.center + self.direction * 2 * self.half_extent
        origins = plane + (xs.reshape(-1, 1) * self.right + ys.reshape(-1, 1) * self.up) * self.half_extent
        directions = np.broadcast_to(-self.direction, origins.shape).copy()
        return origins, directions


@dataclass(frozen=True, eq=False)
class ViewRender:
    """What one camera sees: depth per pixel (inf where no triangle) and the world normal
    of the triangle hit (zero where none)."""

    camera: Camera
    depth: np.ndarray  # (size, size)
    normals: np.ndarray  # (size, size, 3)

    @property
    def hit(self) -> np.ndarray:
        return np.isfinite(self.depth)

    def depth_image(self) -> Image:
        """Near bright, far dark, background black: a depth ControlNet's conditioning image."""
        from PIL import Image

        levels = np.zeros(self.depth.shape, dtype=np.float64)
        hit = self.hit
        if hit.any():
            near, far = float(self.depth[hit].min()), float(self.depth[hit].max())
            span = max(far - near, 1e-9)
            levels[hit] = _NEAR_LEVEL - (self.depth[hit] - near) / span * (_NEAR_LEVEL - _FAR_LEVEL)
        grey = np.clip(np.round(levels), 0, 255).astype(np.uint8)
        return Image.fromarray(np.stack([grey] * 3, axis=-1))

    def normal_image(self) -> Image:
        """World normals as colours (x, y, z from [-1, 1] to [0, 255]); background black."""
        from PIL import Image

        colours = np.where(self.hit[..., None], (self.normals + 1) / 2 * 255, 0)
        return Image.fromarray(np.clip(np.round(colours), 0, 255).astype(np.uint8))


def cameras(mesh: Mesh, names: tuple[str, ...], size: int, rotation_degrees: float = 0.0) -> list[Camera]:
    """Cameras named from :data:`DIRECTIONS` around ``mesh``, all at one scale."""
    low, high = mesh.vertices.min(axis=0), mesh.vertices.max(axis=0)
    center = (low + high) / 2
    radius = float(np.linalg.norm(mesh.vertices - center, axis=1).max())
    half_extent = max(radius, 1e-9) * _MARGIN
    turn = _rotation_about_y(math.radians(rotation_degrees))
    return [_camera(name, turn, center, half_extent, size) for name in names]


def render(mesh: Mesh, camera: Camera, intersector: Any) -> ViewRender:
    """Cast one ray per pixel of ``camera`` at the mesh (``intersector``: :func:`intersector`)."""
    origins, directions = camera.rays()
    locations, ray_index, face_index = intersector.intersects_location(
        origins, directions, multiple_hits=False
    )
    depth = np.full(camera.size * camera.size, np.inf)
    normals = np.zeros((camera.size * camera.size, 3))
    if len(ray_index):
        distances = np.einsum("ij,ij->i", locations - origins[ray_index], directions[ray_index])
        # Several hits for one ray (an edge both triangles claim): the nearest wins.
        order = np.argsort(-distances)
        depth[ray_index[order]] = distances[order]
        normals[ray_index[order]] = mesh.face_normals[face_index[order]]
    shape = (camera.size, camera.size)
    return ViewRender(camera=camera, depth=depth.reshape(shape), normals=normals.reshape((*shape, 3)))


def intersector(mesh: Mesh) -> Any:
    """trimesh's ray intersector over the mesh: Embree's when embreex imports, else pure Python."""
    import trimesh

    return trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).ray


def _camera(name: str, turn: np.ndarray, center: np.ndarray, half_extent: float, size: int) -> Camera:
    direction = turn @ np.array(DIRECTIONS[name])
    # Side views keep +Y up; the top and bottom views put the front at the image's bottom/top.
    world_up = turn @ (np.array([0.0, 0.0, -1.0]) if name in ("top", "bottom") else np.array([0.0, 1.0, 0.0]))
    if name == "bottom":
        world_up = -world_up
    right = np.cross(world_up, direction)
    right /= np.linalg.norm(right)
    up = np.cross(direction, right)
    return Camera(
        name=name, direction=direction, right=right, up=up, center=center, half_extent=half_extent, size=size
    )


def _rotation_about_y(angle: float) -> np.ndarray:
    cos, sin = math.cos(angle), math.sin(angle)
    return np.array([[cos, 0.0, sin], [0.0, 1.0, 0.0], [-sin, 0.0, cos]])
