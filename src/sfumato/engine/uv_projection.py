"""Views back into a UV texture: every texel a mesh's UVs cover, coloured from the views that see it.

:func:`rasterize` finds the texels inside the mesh's UV triangles (its islands) and where
each lies on the surface. :func:`project` looks each texel up in every view: a texel
counts in a view only when the view sees it — it falls on a pixel where a ray hit, and
its depth matches that pixel's depth (something nearer means it is occluded, and it gets
nothing from that view) — and counts as much as its surface faces the camera (the facing
ratio, raised to ``sharpness``: a surface seen edge-on contributes little). :func:`bake`
writes the weighted mean as RGBA: texels outside every island stay transparent; a texel
inside an island that no view saw takes the colour of the nearest texel one did.

Texture rows run top-down and UV ``v`` bottom-up (OBJ and glTF alike after trimesh's
loading): row 0 is ``v = 1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sfumato.engine.mesh_views import ViewRender
from sfumato.engine.meshes import Mesh

_EDGE = 1e-7  # barycentric slack: a texel centre on a shared edge belongs to a triangle
_DEPTH_TOLERANCE_PIXELS = 2.0  # how much deeper than the nearest hit a visible texel may be


@dataclass(frozen=True, eq=False)
class UVLayout:
    """The texels inside the mesh's UV islands: their texture rows and columns, the surface
    point and face normal each stands for (``positions``/``normals``, one row per texel)."""

    size: int
    rows: np.ndarray
    columns: np.ndarray
    positions: np.ndarray
    normals: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """(size, size) True inside an island."""
        mask = np.zeros((self.size, self.size), dtype=bool)
        mask[self.rows, self.columns] = True
        return mask


def rasterize(mesh: Mesh, size: int) -> UVLayout:
    """Each texel whose centre lies in a UV triangle, with its point on that triangle.

    Where UV triangles overlap (mirrored or stacked islands), the later face owns the texel.
    """
    owner = np.full((size, size), -1, dtype=np.int64)
    weights = np.zeros((size, size, 3))
    texel = np.stack([mesh.uv[:, 0] * size - 0.5, (1 - mesh.uv[:, 1]) * size - 0.5], axis=1)
    for face_index, face in enumerate(mesh.faces):
        corners = texel[face]
        low = np.maximum(np.ceil(corners.min(axis=0) - _EDGE), 0).astype(int)
        high = np.minimum(np.floor(corners.max(axis=0) + _EDGE), size - 1).astype(int)
        if (high < low).any():
            continue
        xs, ys = np.meshgrid(np.arange(low[0], high[0] + 1), np.arange(low[1], high[1] + 1))
        bary = _barycentric(corners, xs.ravel().astype(float), ys.ravel().astype(float))
        if bary is None:
            continue  # a degenerate UV triangle covers no area
        inside = (bary >= -_EDGE).all(axis=1)
        rows, columns = ys.ravel()[inside], xs.ravel()[inside]
        owner[rows, columns] = face_index
        weights[rows, columns] = bary[inside]
    rows, columns = np.nonzero(owner >= 0)
    faces = owner[rows, columns]
    corners = mesh.vertices[mesh.faces[faces]]  # (N, 3 corners, 3)
    positions = np.einsum("nk,nkd->nd", weights[rows, columns], corners)
    return UVLayout(
        size=size, rows=rows, columns=columns, positions=positions, normals=mesh.face_normals[faces]
    )


def project(
    layout: UVLayout, views: Sequence[tuple[ViewRender, np.ndarray]], *, sharpness: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted sums of the view pixels each texel shows in: (colour sums (N, C), weights (N,)).

    ``views`` pairs each rendered view with its picture as an (size, size, C) float array.
    """
    channels = views[0][1].shape[-1] if views else 3
    sums = np.zeros((len(layout.rows), channels))
    weights = np.zeros(len(layout.rows))
    for view, picture in views:
        seen, pixels, facing = visible(layout, view)
        weight = np.where(seen, np.clip(facing, 0, 1) ** sharpness, 0.0)
        rows, columns = pixels
        sums += weight[:, None] * picture[rows, columns]
        weights += weight
    return sums, weights


def visible(
    layout: UVLayout, view: ViewRender
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Which texels ``view`` sees, the pixel each falls on (clamped into the image) and how
    squarely its surface faces the camera (the cosine; ≤ 0: it faces away)."""
    camera = view.camera
    columns, rows, depth = camera.project(layout.positions)
    column_index = np.clip(np.round(columns).astype(int), 0, camera.size - 1)
    row_index = np.clip(np.round(rows).astype(int), 0, camera.size - 1)
    inside = (columns > -0.5) & (columns < camera.size - 0.5) & (rows > -0.5) & (rows < camera.size - 0.5)
    nearest = view.depth[row_index, column_index]
    facing = layout.normals @ camera.direction
    tolerance = _DEPTH_TOLERANCE_PIXELS * camera.pixel
    seen = inside & np.isfinite(nearest) & (depth <= nearest + tolerance) & (facing > 0)
    return seen, (row_index, column_index), facing


def bake(layout: UVLayout, sums: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The texture as (size, size, C + 1) uint8: the weighted mean where some view saw a
    texel, the nearest seen texel's colour elsewhere on the islands, transparent off them."""
    from scipy import ndimage

    size, channels = layout.size, sums.shape[1]
    colour = np.zeros((size, size, channels))
    seen = np.zeros((size, size), dtype=bool)
    hit = weights > 0
    colour[layout.rows[hit], layout.columns[hit]] = sums[hit] / weights[hit, None]
    seen[layout.rows[hit], layout.columns[hit]] = True
    if seen.any() and not seen.all():
        _, (near_rows, near_columns) = ndimage.distance_transform_edt(~seen, return_indices=True)
        colour = colour[near_rows, near_columns]
    mask = layout.mask
    texture = np.zeros((size, size, channels + 1), dtype=np.uint8)
    texture[..., :channels] = np.where(mask[..., None], np.clip(np.round(colour), 0, 255), 0)
    texture[..., channels] = np.where(mask, 255, 0)
    return texture


def normal_map(layout: UVLayout) -> np.ndarray:
    """The surface's (object-space) normals as an RGBA texture: x, y, z from [-1, 1] to
    [0, 255], transparent off the islands."""
    sums = (layout.normals + 1) / 2 * 255
    return bake(layout, sums, np.ones(len(layout.rows)))


def _barycentric(corners: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray | None:
    (x0, y0), (x1, y1), (x2, y2) = corners
    determinant = (y1 - y2) * (x0 - x2) + (x2 - x1) * (y0 - y2)
    if abs(determinant) < 1e-12:
        return None
    first = ((y1 - y2) * (xs - x2) + (x2 - x1) * (ys - y2)) / determinant
    second = ((y2 - y0) * (xs - x2) + (x0 - x2) * (ys - y2)) / determinant
    return np.stack([first, second, 1 - first - second], axis=1)
