"""3D model assets and texture generation through the official SDK, against the in-process app.

One end-to-end test per database: upload a UV-mapped cube (OBJ) through the presigned form,
read and list it, texture it (ALBEDO with content exactly on the UV islands, NORMAL beside
it), preview one view, refuse a file that is no mesh (400, nothing charged), hide all of it
from another account (404), and delete a texture and the model with their files.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from leonardo_ai_sdk import LeonardoAiSDK
from leonardo_ai_sdk.models import errors, operations
from PIL import Image, ImageDraw

from sfumato.app import create_app
from sfumato.engine.meshes import obj_text
from sfumato.runtime import build_context
from sfumato.service.keys import issue_key
from tests.api.canvas import balance
from tests.api.conftest import Api, make_settings
from tests.api.sdk import sdk_for
from tests.api.uploading import fetch, post_form
from tests.webhooks.conftest import FAST_WEBHOOKS
from tests.webhooks.receiver import Receiver
from tests.webhooks.urls import unsigned

TEXTURE_SIZE = 64
VIEW_SIZE = 64


@pytest.fixture
def texturer(database_url: str, tmp_path: Path, models_dir: Path) -> Iterator[tuple[Api, Receiver]]:
    """An app that paints textures with the tiny depth ControlNet, small views and maps, for a
    key whose webhook a loopback receiver hears."""
    settings = make_settings(
        database_url,
        tmp_path,
        models_dir,
        texture_model="tiny-depth-controlnet",
        texture_size=TEXTURE_SIZE,
        texture_view_size=VIEW_SIZE,
        safety_model="",
        **FAST_WEBHOOKS,
    )
    ctx = build_context(settings)
    with Receiver() as receiver, TestClient(create_app(settings, context=ctx)) as client:
        issued = issue_key(ctx, username="alice", webhook_url=receiver.url)
        yield Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id), receiver


def uv_cube() -> tuple[bytes, np.ndarray, np.ndarray]:
    """A unit cube whose faces xatlas laid out in UV space, as OBJ text; its UVs and faces."""
    import trimesh
    import xatlas

    box = trimesh.creation.box()
    mapping, faces, uv = xatlas.parametrize(box.vertices, box.faces)
    return obj_text(box.vertices[mapping], faces, uv).encode(), uv, faces


def island_mask(uv: np.ndarray, faces: np.ndarray, size: int) -> np.ndarray:
    """Where the UV triangles lie, drawn independently of the server (PIL's polygon fill)."""
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    for face in faces:
        # PIL puts pixel centres at integer coordinates: texel c spans u in [c, c + 1) / size.
        draw.polygon([(u * size - 0.5, (1 - v) * size - 0.5) for u, v in uv[face]], fill=255)
    return np.asarray(canvas) > 0


def upload_model(api: Api, sdk: LeonardoAiSDK, data: bytes, extension: str = "obj") -> str:
    response = sdk.three_d_model_assets.upload_model_asset(
        request=operations.UploadModelAssetRequestBody(model_extension=extension, name="crate")
    )
    assert response.object is not None and response.object.upload_model_asset is not None
    # The SDK's ``model_fields`` attribute is shadowed by pydantic's own: read it by its wire name.
    ticket = response.object.upload_model_asset.model_dump(by_alias=True)
    assert ticket["modelUrl"] and ticket["modelKey"] and ticket["modelId"]
    posted = post_form(api, ticket["modelUrl"], json.loads(ticket["modelFields"]), data, f"crate.{extension}")
    assert posted.status_code in (200, 204), posted.text
    return str(ticket["modelId"])


def texture(sdk: LeonardoAiSDK, model_id: str, preview: bool = False, **fields: Any) -> str:
    """Ask for a texture; its id, once its charge is checked against the calculator's quote."""
    response = sdk.texture.create_texture_generation(
        request=operations.CreateTextureGenerationRequestBody(
            model_asset_id=model_id, prompt="a weathered wooden crate", seed=11, preview=preview, **fields
        )
    )
    assert response.object is not None and response.object.texture_generation_job is not None
    job = response.object.texture_generation_job
    params = {"TEXTURE_GENERATION": {"preview": preview}}
    quote = sdk.pricing_calculator.pricing_calculator(
        request={"service": "TEXTURE_GENERATION", "service_params": params}
    ).object
    assert quote is not None and quote.calculate_production_api_service_cost is not None
    assert job.api_credit_cost == quote.calculate_production_api_service_cost.cost
    assert job.id
    return job.id


def wait(sdk: LeonardoAiSDK, texture_id: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sdk.texture.get_texture_generation_by_id(id=texture_id).object
        assert got is not None and got.model_asset_texture_generations_by_pk is not None
        row = got.model_asset_texture_generations_by_pk
        if row.status != "PENDING":
            return row
        time.sleep(0.05)
    raise AssertionError(f"texture generation {texture_id} still PENDING after {timeout}s")


def picture(api: Api, url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(fetch(api, url).content)))


def test_model_upload_and_texture_round_trip(texturer: tuple[Api, Receiver]) -> None:
    from scipy import ndimage

    api, receiver = texturer
    sdk = sdk_for(api)
    obj, uv, faces = uv_cube()
    model_id = upload_model(api, sdk, obj)
    with pytest.raises(errors.SDKError) as unknown:
        upload_model(api, sdk, obj, extension="stl")
    assert unknown.value.status_code == 400

    got = sdk.three_d_model_assets.get3_d_model_by_id(id=model_id).object
    assert got is not None and got.model_assets_by_pk is not None
    assert got.model_assets_by_pk.name == "crate" and got.model_assets_by_pk.mesh_url
    assert fetch(api, got.model_assets_by_pk.mesh_url).content == obj
    listed = sdk.three_d_model_assets.get3_d_models_by_user_id(user_id=api.user_id).object
    assert listed is not None and [m.id for m in listed.model_assets or []] == [model_id]

    before = balance(api)
    full = wait(sdk, texture(sdk, model_id))
    assert full.status == "COMPLETE", full
    maps = {image.type: image for image in full.model_asset_texture_images}
    assert set(maps) == {"ALBEDO", "NORMAL"}
    albedo = picture(api, maps["ALBEDO"].url)
    assert albedo.shape == (TEXTURE_SIZE, TEXTURE_SIZE, 4)
    # Content exactly on the UV islands (up to the rim where two rasterisers differ), transparent
    # everywhere else.
    islands = island_mask(uv, faces, TEXTURE_SIZE)
    opaque = albedo[..., 3] > 0
    assert opaque[ndimage.binary_erosion(islands, iterations=2)].all()
    assert not opaque[~ndimage.binary_dilation(islands)].any()
    assert albedo[..., :3][opaque].std() > 0  # painted, not a flat fill
    assert picture(api, maps["NORMAL"].url).shape == (TEXTURE_SIZE, TEXTURE_SIZE, 4)
    charged = before - balance(api)
    assert charged == api.ctx.pricing.texture_generation(preview=False)
    # The key's webhook hears of it, the texture generation as the GET renders it.
    receiver.wait_for(lambda r: any(full.id in hit.body.decode() for hit in r.acknowledged()), timeout=60)
    [event] = [json.loads(hit.body) for hit in receiver.acknowledged() if full.id in hit.body.decode()]
    assert (event["type"], event["object"]) == ("texture_generation.complete", "texture_generation")
    got_raw = api.get(f"/generations-texture/{full.id}").json()["model_asset_texture_generations_by_pk"]
    assert unsigned(event["data"]["object"]["model_asset_texture_images"]) == unsigned(
        got_raw["model_asset_texture_images"]
    )

    preview = wait(sdk, texture(sdk, model_id, preview=True, preview_direction="left"))
    assert preview.status == "COMPLETE"
    [view] = preview.model_asset_texture_images
    assert picture(api, view.url).shape[:2] == (VIEW_SIZE, VIEW_SIZE)
    by_model = sdk.texture.get_texture_generations_by_model_id(model_id=model_id).object
    assert by_model is not None
    assert {row.id for row in by_model.model_asset_texture_generations or []} == {full.id, preview.id}

    # A file that is no mesh: refused before anything is charged.
    broken = upload_model(api, sdk, b"this is not a mesh\n")
    spent = balance(api)
    with pytest.raises(errors.SDKError) as refused:
        texture(sdk, broken)
    assert refused.value.status_code == 400
    assert json.loads(refused.value.body)["code"] == "invalid-mesh"
    # More faces than the server takes, a model whose file never came, bad fields: 400s too.
    api.ctx.settings.model_asset_max_faces = 5
    too_big = api.post("/generations-texture", json={"modelAssetId": model_id, "prompt": "a crate"})
    api.ctx.settings.model_asset_max_faces = 1000
    assert too_big.status_code == 400 and "at most 5" in too_big.json()["error"]
    empty = sdk.three_d_model_assets.upload_model_asset(request={"model_extension": "glb"}).object
    assert empty is not None and empty.upload_model_asset is not None
    for body, message in (
        ({"modelAssetId": empty.upload_model_asset.model_id, "prompt": "a crate"}, "no file yet"),
        ({"modelAssetId": model_id, "prompt": " "}, "prompt"),
        ({"modelAssetId": model_id, "prompt": "a box", "preview": True, "preview_direction": "up"}, "front"),
    ):
        response = api.post("/generations-texture", json=body)
        assert response.status_code == 400 and message in response.json()["error"], response.text
    assert balance(api) == spent

    # Another account sees none of it.
    other_key, _ = api.new_key("mallory")
    other = sdk_for(api, other_key)
    for call in (
        lambda: other.three_d_model_assets.get3_d_model_by_id(id=model_id),
        lambda: other.three_d_model_assets.delete3_d_model_by_id(id=model_id),
        lambda: other.texture.get_texture_generation_by_id(id=full.id),
        lambda: other.texture.get_texture_generations_by_model_id(model_id=model_id),
        lambda: other.texture.delete_texture_generation_by_id(id=full.id),
        lambda: texture(other, model_id),
    ):
        with pytest.raises(errors.SDKError) as hidden:
            call()
        assert hidden.value.status_code == 404
    mine = other.three_d_model_assets.get3_d_models_by_user_id(user_id=api.user_id).object
    assert mine is not None and not mine.model_assets

    deleted = sdk.texture.delete_texture_generation_by_id(id=preview.id).object
    assert deleted is not None and deleted.delete_model_asset_texture_generations_by_pk is not None
    assert deleted.delete_model_asset_texture_generations_by_pk.id == preview.id
    assert fetch(api, view.url).status_code == 404
    gone = sdk.three_d_model_assets.delete3_d_model_by_id(id=model_id).object
    assert gone is not None and gone.delete_model_assets_by_pk is not None
    assert gone.delete_model_assets_by_pk.id == model_id
    assert fetch(api, maps["ALBEDO"].url).status_code == 404
    for path in (f"/models-3d/{model_id}", f"/generations-texture/{full.id}"):
        assert api.get(path).status_code == 404
