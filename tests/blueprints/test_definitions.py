"""Blueprint files are checked as they are read: a mistake names the file and the key at fault."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from sfumato.blueprints import BlueprintError, load
from sfumato.blueprints.definitions import parse_file

DOCS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "blueprints.md"
GOOD = """
    id = "11111111-1111-4111-8111-111111111111"
    name = "Two steps"

    [[versions]]
    id = "11111111-1111-4111-8111-111111111112"

    [[versions.nodes]]
    id = "photo"
    task = "text_to_image"
    prompt = "a photo of {thing}"
    inputs = ["textVariables"]

    [[versions.nodes]]
    id = "enlarge"
    task = "upscale"
"""


def _write(folder: Path, text: str, name: str = "mine.toml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def test_the_shipped_blueprints_and_the_documented_example_load(tmp_path: Path) -> None:
    [example] = re.findall(r"```toml\n(.*?)```", DOCS_PAGE.read_text(), re.S)
    _write(tmp_path, example)
    library = load(tmp_path)
    names = [blueprint.name for blueprint in library.blueprints]
    assert names == ["Catalogue photo", "Cut-out", "Motion ad", "Product shot"]
    mine = library.get("9d3c1c44-2f7e-4d6a-9a51-3c1f0e6b7a01")
    assert mine is not None and not mine.official
    [photo, *_] = mine.versions[0].nodes
    assert photo.required() == [] and photo.options == {"width": 1024, "height": 1024}
    assert library.version("9d3c1c44-2f7e-4d6a-9a51-3c1f0e6b7a02") == (mine, mine.versions[0])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('task = "upscale"', 'task = "sharpen"'), r"versions\[0\]\.nodes\[1\]\.task must be one of"),
        (
            ('inputs = ["textVariables"]', "inputs = []"),
            r"placeholders without a default need 'textVariables'",
        ),
        (('task = "upscale"', 'task = "upscale"\ninputs = ["text"]'), r"task upscale has no prompt"),
        (
            ('task = "upscale"', 'task = "upscale"\nmultiplier = "2"'),
            r"nodes\[1\]\.multiplier must be a float",
        ),
        (('task = "upscale"', 'task = "upscale"\ncolour = 1'), r"unknown keys \['colour'\]"),
        (('id = "enlarge"', 'id = "photo"'), r"node ids must differ"),
        (
            ('id = "11111111-1111-4111-8111-111111111111"', 'id = "one"'),
            r"^blueprint file .*: id must be a UUID",
        ),
        (('task = "text_to_image"', 'task = "remove_background"'), r"has no prompt"),
    ],
)
def test_a_mistake_is_refused_naming_the_file_and_the_key(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = _write(tmp_path, GOOD.replace("    " + change[0], "    " + change[1].replace("\n", "\n    "), 1))
    with pytest.raises(BlueprintError, match=message) as refused:
        parse_file(path, official=False)
    assert str(path) in str(refused.value)


def test_an_id_used_twice_is_refused_with_both_files(tmp_path: Path) -> None:
    _write(tmp_path, GOOD, "a.toml")
    _write(tmp_path, GOOD.replace("Two steps", "Copy"), "b.toml")
    with pytest.raises(
        BlueprintError, match=r"b\.toml: id 11111111-1111-4111-8111-111111111111 is already used by .*a\.toml"
    ):
        load(tmp_path)


def test_a_clip_ends_the_chain_and_a_first_picture_step_needs_its_picture(tmp_path: Path) -> None:
    clip = 'id = "motion"\n    task = "image_to_video"\n    prompt = "slow pan"'
    clip_then_more = GOOD.replace('id = "enlarge"\n    task = "upscale"', clip) + (
        '\n    [[versions.nodes]]\n    id = "more"\n    task = "upscale"\n'
    )
    with pytest.raises(BlueprintError, match=r"node 'more' follows 'motion', whose clip no step takes"):
        parse_file(_write(tmp_path, clip_then_more), official=False)
    text_node = 'task = "text_to_image"\n    prompt = "a photo of {thing}"\n    inputs = ["textVariables"]'
    picture_first = GOOD.replace(text_node, 'task = "remove_background"')
    with pytest.raises(BlueprintError, match=r"starts from a picture, so its inputs need 'imageUrl'"):
        parse_file(_write(tmp_path, picture_first), official=False)
