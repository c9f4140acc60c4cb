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

    Every face's bounding box of texels is tested at once (in chunks of faces, so memory stays
    bounded); where UV triangles overlap (mirrored or stacked islands), the later face owns
    the texel.
    """
    texel = np.stack([mesh.uv[:, 0] * size - 0.5, (1 - mesh.uv[:, 1]) * size - 0.5], axis=1)
    corners = texel[mesh.faces]  # (F, 3, 2)
    low = np.maximum(np.ceil(corners.min(axis=1) - _EDGE), 0).astype(np.int64)
    high = np.minimum(np.floor(corners.max(axis=1) + _EDGE), size - 1).astype(np.int64)
    spans = np.maximum(high - low + 1, 0)  # (F, 2): texel columns and rows of each face's box
    areas = spans[:, 0] * spans[:, 1]
    found_faces, found_texels, found_weights = [], [], []
    for chunk in _chunks(areas):
        faces, texels, weights = _covered(corners, low, spans, areas, chunk, size)
        found_faces.append(faces)
        found_texels.append(texels)
        found_weights.append(weights)
    faces = np.concatenate(found_faces) if found_faces else np.zeros(0, dtype=np.int64)
    texels = np.concatenate(found_texels) if found_texels else np.zeros(0, dtype=np.int64)
    weights = np.concatenate(found_weights) if found_weights else np.zeros((0, 3))
    # The later face wins a shared texel: keep each texel's last occurrence in face order.
    last = len(texels) - 1 - np.unique(texels[::-1], return_index=True)[1]
    faces, texels, weights = faces[last], texels[last], weights[last]
    corners3d = mesh.vertices[mesh.faces[faces]]  # (N, 3 corners, 3)
    return UVLayout(
        size=size,
        rows=texels // size,
        columns=texels % size,
        positions=np.einsum("nk,nkd->nd", weights, corners3d),
        normals=mesh.face_normals[faces],
    )


def _chunks(areas: np.ndarray, budget: int = 1 << 22) -> list[np.ndarray]:
    """Face indices in order, grouped so each group tests at most about ``budget`` texels."""
    groups, start, total = [], 0, 0
    for index, area in enumerate(areas.tolist()):
        if total and total + area > budget:
            groups.append(np.arange(start, index))
            start, total = index, 0
        total += area
    if start < len(areas):
        groups.append(np.arange(start, len(areas)))
    return groups


def _covered(
    corners: np.ndarray, low: np.ndarray, spans: np.ndarray, areas: np.ndarray, chunk: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the faces of ``chunk``: each texel centre inside one (face, flat texel index, barycentrics)."""
    counts = areas[chunk]
    faces = np.repeat(chunk, counts)
    if not len(faces):
        return faces, faces, np.zeros((0, 3))
    local = np.arange(len(faces)) - np.repeat(np.cumsum(counts) - counts, counts)
    width = spans[faces, 0]
    xs = low[faces, 0] + local % width
    ys = low[faces, 1] + local // width
    (x0, y0), (x1, y1), (x2, y2) = (corners[faces, k].T for k in range(3))
    determinant = (y1 - y2) * (x0 - x2) + (x2 - x1) * (y0 - y2)
    usable = np.abs(determinant) > 1e-12  # a degenerate UV triangle covers no area
    safe = np.where(usable, determinant, 1.0)
    first = ((y1 - y2) * (xs - x2) + (x2 - x1) * (ys - y2)) / safe
    second = ((y2 - y0) * (xs - x2) + (x0 - x2) * (ys - y2)) / safe
    weights = np.stack([first, second, 1 - first - second], axis=1)
    inside = usable & (weights >= -_EDGE).all(axis=1)
    return faces[inside], (ys * size + xs)[inside], weights[inside]


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
