"""Views projected back into a UV texture, and meshes parsed for it: no diffusion, just geometry."""

from __future__ import annotations

import numpy as np
import pytest

from sfumato.engine import mesh_views, uv_projection
from sfumato.engine.meshes import Mesh, MeshError, MeshLimits, load, obj_text

LIMITS = MeshLimits(max_faces=1000, max_vertices=1000)
VIEW = 32
TEXTURE = 32
RED, BLUE = (255.0, 0.0, 0.0), (0.0, 0.0, 255.0)


def quad(z: float, u0: float, u1: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A square facing +Z at depth ``z``, its UV island the rectangle u0..u1 × 0.2..0.8."""
    vertices = np.array([[-1, -1, z], [1, -1, z], [1, 1, z], [-1, 1, z]], dtype=float)
    uv = np.array([[u0, 0.2], [u1, 0.2], [u1, 0.8], [u0, 0.8]])
    return vertices, np.array([[0, 1, 2], [0, 2, 3]]), uv


def paint(mesh: Mesh, colours: dict[str, tuple[float, float, float]]) -> np.ndarray:
    """The baked texture when each named view shows one flat colour."""
    cameras = mesh_views.cameras(mesh, tuple(colours), VIEW)
    intersector = mesh_views.intersector(mesh)
    views = [
        (mesh_views.render(mesh, camera, intersector), np.full((VIEW, VIEW, 3), colours[camera.name]))
        for camera in cameras
    ]
    layout = uv_projection.rasterize(mesh, TEXTURE)
    return uv_projection.bake(layout, *uv_projection.project(layout, views))


def island(u0: float, u1: float) -> np.ndarray:
    """Texels whose centres lie inside the rectangle u0..u1 × 0.2..0.8 (rows run top-down)."""
    centres = (np.arange(TEXTURE) + 0.5) / TEXTURE
    columns = (centres >= u0) & (centres <= u1)
    rows = (1 - centres >= 0.2) & (1 - centres <= 0.8)
    return rows[:, None] & columns[None, :]


def test_a_plane_seen_from_the_front_fills_its_island_and_nothing_else() -> None:
    mesh = Mesh(*quad(0.0, 0.1, 0.9), generated_uv=False)
    texture = paint(mesh, {"front": RED, "back": BLUE})
    inside = island(0.1, 0.9)
    assert (texture[..., 3][inside] == 255).all()
    assert (texture[..., :3][inside] == (255, 0, 0)).all()  # the back view sees its back: no blue
    assert (texture[..., 3][~inside] == 0).all()
    assert (texture[..., :3][~inside] == 0).all()


def test_an_occluded_surface_gets_nothing_from_the_view_it_is_hidden_from() -> None:
    # Two squares, one behind the other: the front view sees only the near one, the back
    # view only the far one (its faces turned to -Z).
    near_vertices, near_faces, near_uv = quad(0.5, 0.05, 0.45)
    far_vertices, far_faces, far_uv = quad(-0.5, 0.55, 0.95)
    far_faces = far_faces[:, ::-1] + 4
    mesh = Mesh(
        np.vstack([near_vertices, far_vertices]),
        np.vstack([near_faces, far_faces]),
        np.vstack([near_uv, far_uv]),
        generated_uv=False,
    )
    texture = paint(mesh, {"front": RED, "back": BLUE})
    assert (texture[..., :3][island(0.05, 0.45)] == (255, 0, 0)).all()
    assert (texture[..., :3][island(0.55, 0.95)] == (0, 0, 255)).all()
    # Seen alone from the front, the far square is hidden: it is filled from the near one's
    # colour (nearest seen texel), never from a view that cannot see it.
    layout = uv_projection.rasterize(mesh, TEXTURE)
    [camera] = mesh_views.cameras(mesh, ("front",), VIEW)
    front = mesh_views.render(mesh, camera, mesh_views.intersector(mesh))
    seen, _, _ = uv_projection.visible(layout, front)
    far_texels = layout.columns >= TEXTURE // 2
    assert not seen[far_texels].any()
    assert seen[~far_texels].mean() > 0.8  # all but the rim, whose pixels' rays pass the edge


def test_depth_images_are_near_bright_and_background_black() -> None:
    vertices, faces, uv = quad(0.0, 0.1, 0.9)
    tilted = vertices.copy()
    tilted[:, 2] = vertices[:, 0] * 0.5  # the right edge comes closer to the front camera
    mesh = Mesh(tilted, faces, uv, generated_uv=False)
    camera = mesh_views.cameras(mesh, ("front",), VIEW)[0]
    depth = np.asarray(mesh_views.render(mesh, camera, mesh_views.intersector(mesh)).depth_image())[..., 0]
    middle = VIEW // 2
    assert depth[middle, 23] > depth[middle, 8] > 0  # nearer is brighter
    assert depth[0, 0] == 0  # no surface there


def test_meshes_are_parsed_checked_and_unwrapped() -> None:
    vertices, faces, uv = quad(0.0, 0.1, 0.9)
    with_uv = load(obj_text(vertices, faces, uv).encode(), "obj", LIMITS)
    assert not with_uv.generated_uv and np.allclose(sorted(with_uv.uv[:, 0]), sorted(uv[:, 0]))
    bare = "\n".join([*(f"v {x} {y} {z}" for x, y, z in vertices), "f 1 2 3", "f 1 3 4"]).encode()
    unwrapped = load(bare, "obj", LIMITS)
    assert unwrapped.generated_uv and unwrapped.uv.min() >= 0 and unwrapped.uv.max() <= 1
    with pytest.raises(MeshError, match="no triangles"):
        load(b"this is not a mesh\n", "obj", LIMITS)
    with pytest.raises(MeshError, match="does not parse"):
        load(b"\x00\x01 glTF? no", "glb", LIMITS)
    with pytest.raises(MeshError, match="at most 1 are allowed"):
        load(bare, "obj", MeshLimits(max_faces=1, max_vertices=1000))


def test_a_glb_reads_like_its_obj() -> None:
    import trimesh

    vertices, faces, uv = quad(0.0, 0.1, 0.9)
    visual = trimesh.visual.TextureVisuals(uv=uv)
    glb = trimesh.Trimesh(vertices, faces, visual=visual, process=False).export(file_type="glb")
    mesh = load(glb, "glb", LIMITS)
    assert not mesh.generated_uv and len(mesh.faces) == 2
    assert np.allclose(sorted(map(tuple, mesh.uv)), sorted(map(tuple, uv)), atol=1e-6)
