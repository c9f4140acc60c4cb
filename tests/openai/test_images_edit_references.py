"""``client.images.edit(image=[…])``: the first picture edited, the others shown beside it
(the in-context canvas of ``engine/in_context.py``)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import openai
import pytest
from openai import OpenAI
from PIL import Image

from sfumato.service import edits
from sfumato.store.migrate import upgrade
from tests.api.conftest import Api
from tests.openai.conftest import start
from tests.openai.test_images_edit import HOLE, SIZE, _decoded, _mask, _png, _source


@pytest.fixture(scope="module")
def oapi(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Api]:
    """One app for the module, on one backend (the edits' rows are tested on both elsewhere)."""
    folder = tmp_path_factory.mktemp("openai-references")
    url = f"sqlite:///{folder / 'sfumato.db'}"
    upgrade(url)
    yield from start(url, folder, models_dir)


def _reference(level: int) -> bytes:
    return _png(Image.new("RGB", (SIZE, SIZE), (level, level, level)))


def test_several_pictures_edit_the_first_with_the_others_as_references(oapi: Api, client: OpenAI) -> None:
    source = _source()
    picture = ("source.png", _png(Image.fromarray(source)), "image/png")

    def edit(*references: bytes) -> np.ndarray:
        result = client.images.edit(
            image=[picture, *[(f"ref{i}.png", r, "image/png") for i, r in enumerate(references)]],
            mask=("mask.png", _mask(), "image/png"), prompt="a red apple", model="tiny-sd15",
            response_format="b64_json", extra_body={"seed": 3, "steps": 4},
        )  # fmt: skip
        [output] = _decoded(result)
        last_usage.append(result.usage)
        return output

    last_usage: list[Any] = []
    with_one, with_other = edit(_reference(0)), edit(_reference(255))
    assert last_usage and last_usage[-1].input_tokens_details.image_tokens == 2 * (SIZE // 16) ** 2
    left, top, right, bottom = HOLE
    for output in (with_one, with_other):
        assert output.shape == source.shape  # the first picture's size, not the canvas's
        kept = np.abs(output.astype(int) - source.astype(int))
        kept[top:bottom, left:right] = 0
        assert kept.max() <= 1  # the first picture's unmasked pixels kept
    hole = (slice(top, bottom), slice(left, right))
    # The reference shapes what is painted in the hole: same seed, another reference, another
    # painting (the tiny random model's attention is weak: a few levels, not a new scene).
    change = np.abs(with_one[hole].astype(int) - with_other[hole].astype(int))
    assert change.max() >= 3 and change.mean() > 0.1
    newest = oapi.get(f"/generations/user/{oapi.user_id}").json()["generations"][0]
    full = oapi.get(f"/generations/{newest['id']}").json()["generations_by_pk"]
    assert full["lineage"]["references"] == 1
    kept = edits.input_key(newest["id"], "reference-1")  # for a replay, until the generation goes
    assert oapi.ctx.blobs.exists(kept)
    assert oapi.delete(f"/generations/{newest['id']}").status_code == 200
    assert not oapi.ctx.blobs.exists(kept)


def test_several_pictures_without_a_mask_redraw_the_first(client: OpenAI) -> None:
    source = _source()
    edited, reference = ("source.png", _png(Image.fromarray(source)), "image/png"), ("r.png", _reference(0))
    result = client.images.edit(
        image=[edited, reference],
        prompt="a red apple", model="tiny-sd15", response_format="b64_json", extra_body={"steps": 4},
    )  # fmt: skip
    [output] = _decoded(result)
    assert output.shape == source.shape and not np.array_equal(output, source)


def test_too_many_pictures_are_an_openai_400(client: OpenAI) -> None:
    picture = ("source.png", _png(Image.fromarray(_source())), "image/png")
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.edit(image=[picture] * 5, prompt="x", model="tiny-sd15")
    assert caught.value.param == "image" and "at most 3" in caught.value.message


def test_a_streamed_edit_with_references_previews_the_edited_picture_alone(client: OpenAI) -> None:
    picture = ("source.png", _png(Image.fromarray(_source())), "image/png")
    events = list(
        client.images.edit(
            image=[picture, ("r.png", _reference(255), "image/png")], mask=("mask.png", _mask(), "image/png"),
            prompt="a red apple", model="tiny-sd15", stream=True, partial_images=1, extra_body={"steps": 4},
        )
    )  # fmt: skip
    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]
    for event in events:
        shown = Image.open(io.BytesIO(base64.b64decode(event.b64_json)))
        assert shown.size == (SIZE, SIZE)  # the first cell, not the canvas beside its reference
