"""Text-to-image through the HTTP API, with the worker running in-process."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import numpy as np
from PIL import Image

from tests.api.conftest import Api


def _download(api: Api, url: str) -> Image.Image:
    parts = urlsplit(url)
    assert parts.scheme == "http" and parts.netloc == "testserver", url  # absolute URL
    response = api.client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200, response.text
    return Image.open(io.BytesIO(response.content))


def _pixels(api: Api, generation: dict) -> list[np.ndarray]:
    return [
        np.asarray(_download(api, image["url"]).convert("RGB")) for image in generation["generated_images"]
    ]


def test_generation_completes_with_images_of_the_requested_size(api: Api) -> None:
    generation = api.wait(api.generate(width=64, height=96, num_images=2, seed=7))
    assert generation["status"] == "COMPLETE"
    assert generation["imageWidth"] == 64 and generation["imageHeight"] == 96
    assert generation["seed"] == 7
    assert generation["imageSeeds"] == [7, 8]
    images = [_download(api, image["url"]) for image in generation["generated_images"]]
    assert [image.format for image in images] == ["PNG", "PNG"]
    assert [image.size for image in images] == [(64, 96), (64, 96)]


def test_same_seed_same_pixels_and_different_seed_different_pixels(api: Api) -> None:
    first = _pixels(api, api.wait(api.generate(seed=42)))[0]
    # From another account: one account's repeat of a seeded request is de-duplicated, not re-run.
    twin, _ = api.new_key("twin")
    again = _pixels(api, api.wait(api.generate(key=twin, seed=42), key=twin))[0]
    other = _pixels(api, api.wait(api.generate(seed=43)))[0]
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_images_of_one_generation_differ_and_replay_alone(api: Api) -> None:
    batch = _pixels(api, api.wait(api.generate(seed=100, num_images=3)))
    assert not np.array_equal(batch[0], batch[1]) and not np.array_equal(batch[1], batch[2])
    alone = _pixels(api, api.wait(api.generate(seed=101, num_images=1)))[0]
    assert np.abs(alone.astype(int) - batch[1].astype(int)).max() <= 1


def test_preset_style_changes_the_prompt_the_model_sees(api: Api) -> None:
    plain = _pixels(api, api.wait(api.generate(seed=5, presetStyle="NONE")))[0]
    styled_generation = api.wait(api.generate(seed=5, presetStyle="ANIME"))
    assert styled_generation["presetStyle"] == "ANIME"
    assert not np.array_equal(plain, _pixels(api, styled_generation)[0])


def test_tiling_is_honoured(api: Api) -> None:
    flat = _pixels(api, api.wait(api.generate(seed=9)))[0]
    tiled = _pixels(api, api.wait(api.generate(seed=9, tiling=True)))[0]
    assert not np.array_equal(flat, tiled)


def test_harmless_leonardo_flags_are_accepted_and_recorded(api: Api) -> None:
    generation_id = api.generate(alchemy=True, photoReal=False, promptMagic=True, highContrast=True)
    generation = api.wait(generation_id)
    assert generation["status"] == "COMPLETE"
    assert generation["promptMagic"] is True
    with api.ctx.db.read() as session:
        from sfumato.store.models import Generation

        row = session.get(Generation, generation_id)
        assert row is not None and row.flags["alchemy"] is True and row.flags["highContrast"] is True


def test_list_generations_pages_newest_first(api: Api) -> None:
    ids = [api.generate(seed=i) for i in range(3)]
    for generation_id in ids:
        api.wait(generation_id)
    page = api.get(f"/generations/user/{api.user_id}", params={"offset": 0, "limit": 2}).json()["generations"]
    assert [g["id"] for g in page] == [ids[2], ids[1]]
    rest = api.get(f"/generations/user/{api.user_id}", params={"offset": 2, "limit": 2}).json()["generations"]
    assert [g["id"] for g in rest] == [ids[0]]


def test_delete_removes_the_generation_and_its_blobs(api: Api) -> None:
    generation = api.wait(api.generate())
    url = urlsplit(generation["generated_images"][0]["url"])
    response = api.delete(f"/generations/{generation['id']}")
    assert response.status_code == 200
    assert response.json() == {"delete_generations_by_pk": {"id": generation["id"]}}
    assert api.get(f"/generations/{generation['id']}").status_code == 404
    assert api.client.get(f"{url.path}?{url.query}").status_code == 404
    assert api.delete(f"/generations/{generation['id']}").status_code == 404


def test_accounts_see_only_their_own_generations(api: Api) -> None:
    generation_id = api.generate()
    other_key, _ = api.new_key("bob")
    response = api.get(f"/generations/{generation_id}", key=other_key)
    assert response.status_code == 404
    assert response.json()["code"] == "not-found"
    assert api.delete(f"/generations/{generation_id}", key=other_key).status_code == 404
    listing = api.get(f"/generations/user/{api.user_id}", key=other_key).json()
    assert listing == {"generations": []}
    assert api.get(f"/generations/{generation_id}").status_code == 200


def test_signed_urls_refuse_tampering_and_expiry(api: Api) -> None:
    generation = api.wait(api.generate())
    url = urlsplit(generation["generated_images"][0]["url"])
    query = dict(part.split("=", 1) for part in url.query.split("&"))
    good = api.client.get(f"{url.path}?{url.query}")
    assert good.status_code == 200
    forged = query["signature"][:-1] + ("0" if query["signature"][-1] != "0" else "1")
    assert api.client.get(f"{url.path}?expires={query['expires']}&signature={forged}").status_code == 403
    other_path = url.path.replace("/0.png", "/1.png")
    assert api.client.get(f"{other_path}?{url.query}").status_code == 403
    extended = int(query["expires"]) + 1000
    assert api.client.get(f"{url.path}?expires={extended}&signature={query['signature']}").status_code == 403
    expires, signature = api.ctx.blobs.signer.sign(url.path, expires=1)  # type: ignore[attr-defined]
    expired = api.client.get(f"{url.path}?expires={expires}&signature={signature}")
    assert expired.status_code == 403
    assert expired.json()["code"] == "access-denied"
    assert api.client.get(url.path).status_code == 403
