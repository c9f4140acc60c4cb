"""A run's previews: stored by the worker under the attempt's keys, named in the job's
progress row, kept with a recorded result and gone with the generation or a dropped attempt."""

from __future__ import annotations

import pytest

from sfumato.jobs.artifacts import Attempt, preview_key
from sfumato.jobs.kinds import text_to_image
from sfumato.service import generations
from sfumato.store import progress
from tests.worker.conftest import Bench


def test_previews_are_stored_named_in_the_row_and_deleted_with_the_generation(bench: Bench) -> None:
    generation_id = bench.submit(steps=6, previews=2)
    assert bench.worker().run_once()
    assert bench.generation(generation_id).status == "COMPLETE"
    with bench.ctx.db.read() as session:
        keys = progress.previews_of_generation(session, generation_id)
    job = bench.job(generation_id)
    attempt = Attempt(generation_id, job.leases)
    assert keys == [preview_key(attempt, 0), preview_key(attempt, 1)]
    shown = generations.preview_bytes(bench.ctx, bench.principal, generation_id)
    assert len(shown) == 2 and shown[0] != shown[1]
    # A dropped attempt's outputs include its previews, so failing or losing it removes them.
    payload = text_to_image.KIND.decode(job.payload)
    assert set(keys) <= set(text_to_image.KIND.output_keys(attempt, payload))
    generations.delete_generation(bench.ctx, bench.principal, generation_id)
    assert not any(bench.ctx.blobs.exists(key) for key in keys)


@pytest.mark.parametrize("previews", [0, 2])
def test_a_job_asking_for_previews_is_never_batched(previews: int) -> None:
    payload = text_to_image.TextToImagePayload(
        model_key="tiny-sd15", prompt="x", width=64, height=64, steps=4, guidance_scale=7.0, seeds=(1,),
        previews=previews,
    )  # fmt: skip
    assert (text_to_image.KIND.batch_key(payload) is None) == bool(previews)
