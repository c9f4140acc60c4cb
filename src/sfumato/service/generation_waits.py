"""Answering with a generation's pictures: wait, on the event loop, for its job to end.

A surface that answers synchronously (the OpenAI-compatible one) queues an ordinary
generation, then waits here (or follows it, to stream its previews). The ``generations``
commit signal (``store/commits.py``) wakes the waiter when the worker's transaction that
ended the generation, or wrote a preview of it, commits; the row stays
the only truth and is looked at again now and then in case a signal was lost. A wait past
its deadline abandons the generation: its queued job is cancelled, its charge refunded, and
a worker still running it records nothing (``jobs/subjects.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from sfumato.errors import TimedOut
from sfumato.service import generations
from sfumato.service.context import Context
from sfumato.service.keys import Principal
from sfumato.service.views import GenerationView
from sfumato.store import credits, queue
from sfumato.store.clock import utcnow
from sfumato.store.models import Generation

_POLL_FIRST, _POLL_MAX = 0.01, 0.25  # looks at the row when no signal is heard
_POLL_HEARING = 1.0  # while other processes' signals are heard: only for a lost one
ABANDONED = "abandoned: the synchronous request waiting for it timed out"


async def await_generation(
    ctx: Context, principal: Principal, generation_id: str, *, timeout: float
) -> GenerationView:
    """The generation once it is COMPLETE or FAILED; :class:`TimedOut` (and refunded) after ``timeout``."""
    async for view in follow_generation(ctx, principal, generation_id, timeout=timeout):
        if view.status != "PENDING":
            return view
    raise AssertionError("follow_generation ends with an ended generation")  # pragma: no cover


async def follow_generation(
    ctx: Context, principal: Principal, generation_id: str, *, timeout: float
) -> AsyncIterator[GenerationView]:
    """The generation whenever it may have moved (a preview written, its end): PENDING views,
    then the COMPLETE or FAILED one, last. :class:`TimedOut` (and refunded) after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pause = _POLL_FIRST
    with ctx.generation_waits.watching(generation_id) as ended:
        while True:
            ended.clear()  # before the look: an end committed after it sets it again
            view = await asyncio.to_thread(generations.get_generation, ctx, principal, generation_id)
            yield view
            if view.status != "PENDING":
                return
            if loop.time() >= deadline:
                if await asyncio.to_thread(_abandon, ctx, principal, generation_id):
                    raise TimedOut(
                        f"No worker finished generation {generation_id} within {timeout:g}s: the "
                        "workers are busy or none is running. It was not charged."
                    )
                continue  # it ended as it was abandoned: answer with it
            recheck = _POLL_HEARING if ctx.generation_waits.hears_others else pause
            try:
                await asyncio.wait_for(ended.wait(), max(0.0, min(recheck, deadline - loop.time())))
            except TimeoutError:
                pause = min(pause * 2, _POLL_MAX)


def _abandon(ctx: Context, principal: Principal, generation_id: str) -> bool:
    """FAILED and refunded if still PENDING, its queued jobs cancelled; False if it had ended."""
    with ctx.db.transaction() as session:
        # Locked: a worker recording its end at the same moment waits, then finds it FAILED.
        generation = session.get(Generation, generation_id, with_for_update=True)
        if generation is None or generation.status != "PENDING":
            return False
        for job in queue.jobs_for_generation(session, generation_id):
            if job.state == queue.QUEUED:
                queue.finish(job, state=queue.CANCELLED, error=ABANDONED)
        generation.status = "FAILED"
        generation.failure_reason = ABANDONED
        generation.updated_at = utcnow()
        credits.refund(session, account_id=principal.account_id, subject_id=generation_id, note=ABANDONED)
        return True
