"""Job kinds: one declaration each, payloads typed and versioned, every kind the worker runs registered."""

from __future__ import annotations

import pytest

from sfumato.engine.errors import EngineError
from sfumato.jobs.artifacts import Attempt
from sfumato.jobs.kinds import editing, text_to_image, variation
from sfumato.jobs.registry import KINDS, kind_of
from sfumato.store import queue

PAYLOAD = text_to_image.TextToImagePayload(
    model_key="tiny-sd15", prompt="a fox", width=64, height=64, steps=4, guidance_scale=7.0, seeds=(5, 6)
)


def test_a_payload_round_trips_through_its_row_with_its_version() -> None:
    stored = text_to_image.KIND.encode(PAYLOAD)
    assert stored["v"] == text_to_image.KIND.version
    assert text_to_image.KIND.decode(stored) == PAYLOAD


def test_a_payload_written_before_versions_decodes_as_version_one() -> None:
    stored = text_to_image.KIND.encode(PAYLOAD)
    del stored["v"]
    assert text_to_image.KIND.decode(stored) == PAYLOAD


def test_a_payload_from_a_newer_version_is_refused_with_a_reason() -> None:
    stored = {**text_to_image.KIND.encode(PAYLOAD), "v": text_to_image.KIND.version + 1}
    with pytest.raises(EngineError, match="newer sfumato"):
        text_to_image.KIND.decode(stored)


def test_a_payload_missing_a_field_is_refused_naming_it() -> None:
    stored = text_to_image.KIND.encode(PAYLOAD)
    del stored["seeds"]
    with pytest.raises(EngineError, match="seeds"):
        text_to_image.KIND.decode(stored)


def test_the_job_row_carries_the_kinds_lane_model_and_batch_key() -> None:
    row = text_to_image.KIND.job_row(PAYLOAD, account_id="a", max_attempts=3)
    assert (row["kind"], row["lane"], row["model_key"]) == ("text_to_image", queue.INTERACTIVE, "tiny-sd15")
    other_seeds = text_to_image.KIND.job_row(
        text_to_image.TextToImagePayload(**{**vars(PAYLOAD), "seeds": (9,), "prompt": "an owl"}),
        account_id="a",
        max_attempts=3,
    )
    assert row["batch_key"] == other_seeds["batch_key"]  # prompts and seeds may share a batch
    bigger = text_to_image.KIND.job_row(
        text_to_image.TextToImagePayload(**{**vars(PAYLOAD), "width": 128}), account_id="a", max_attempts=3
    )
    assert bigger["batch_key"] != row["batch_key"]
    edit = editing.EditPayload(**vars(PAYLOAD), init_blob_key="k", strength=0.5)
    assert editing.INPAINT_KIND.job_row(edit, account_id="a", max_attempts=3)["batch_key"] is None


def test_a_variation_is_claimed_by_the_model_it_loads_first() -> None:
    upscale = variation.VariationPayload(
        variation_id="v", transform="UPSCALE", source_key="s", upscaler="esrgan-x4", multiplier=2.0,
        creative=variation.CreativePass(model_key="lcm", prompt="", strength=0.3, steps=4,
                                        guidance_scale=1.0, seed=1),
    )  # fmt: skip
    assert upscale.models() == ("esrgan-x4", "lcm")
    row = variation.KIND.job_row(upscale, account_id="a", max_attempts=3)
    assert row["model_key"] == "esrgan-x4"
    assert variation.KIND.decode(row["payload"]) == upscale  # nested parts decode to their types


def test_every_kind_says_where_its_attempts_write() -> None:
    keys = text_to_image.KIND.output_keys(Attempt(target="g", lease=3), PAYLOAD)
    assert keys == ["generations/g/lease-3/0.png", "generations/g/lease-3/1.png"]


def test_the_registry_holds_each_kind_once_under_its_name() -> None:
    assert set(KINDS) == {
        "text_to_image",
        "image_to_image",
        "inpaint",
        "variation",
        "realtime_canvas",
        "video",
        "video_upscale",
        "training",
        "texture",
        "blueprint_step",
    }
    assert all(kind_of(name) is kind for name, kind in KINDS.items())
    assert kind_of("no-such-kind") is None
    assert {kind.name for kind in KINDS.values() if kind.event is None} == {"realtime_canvas"}
