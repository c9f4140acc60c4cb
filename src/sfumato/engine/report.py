"""Where a run is: its stage and, while denoising, step k of N, told to whoever listens.

The engine knows nothing of jobs or databases. Whoever runs a task and wants to follow it
(the worker, for its jobs' progress) installs a :data:`Report` with :func:`reporting`
around the call; engine code announces stages with :func:`stage` and hands
:func:`on_step` to diffusers' ``callback_on_step_end``. With nobody listening both cost a
context-variable lookup. The listener is called on the thread that runs the pipeline, so
it must be quick: record the news and return.

Previews: a run asked for ``previews`` partial pictures takes :func:`step_callback`'s
callback instead, which also decodes the running latents at evenly spaced steps
(``engine/previews.py``) and hands each picture to the preview sink installed with
:func:`previewing` (the worker's, which stores it for the waiting client). With no sink
installed nothing is decoded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

LOADING, DENOISING, DECODING, UPSCALING, SEGMENTING, ENCODING, UPLOADING = (
    "loading",
    "denoising",
    "decoding",
    "upscaling",
    "segmenting",
    "encoding",
    "uploading",
)

TRAINING = "training"

Report = Callable[..., None]  # (stage, step, total[, loss]); total 0: a stage without steps
PreviewSink = Callable[[Any, int], None]  # (PIL picture, its index from 0)
StepCallback = Callable[[Any, int, Any, dict[str, Any]], dict[str, Any]]

_listener: ContextVar[Report | None] = ContextVar("sfumato_report", default=None)
_preview_sink: ContextVar[PreviewSink | None] = ContextVar("sfumato_previews", default=None)


@contextmanager
def reporting(report: Report) -> Iterator[None]:
    """Send the stages and steps of the runs inside the block to ``report``."""
    token = _listener.set(report)
    try:
        yield
    finally:
        _listener.reset(token)


@contextmanager
def previewing(sink: PreviewSink) -> Iterator[None]:
    """Send the preview pictures of the runs inside the block to ``sink``."""
    token = _preview_sink.set(sink)
    try:
        yield
    finally:
        _preview_sink.reset(token)


def stage(name: str, step: int = 0, total: int = 0) -> None:
    """Announce that the run entered stage ``name`` (at ``step`` of ``total``, if it counts)."""
    listener = _listener.get()
    if listener is not None:
        listener(name, step, total)


def training_step(step: int, total: int, loss: float) -> None:
    """Optimizer step ``step`` of ``total`` of a training is done, at ``loss`` (its mean loss)."""
    listener = _listener.get()
    if listener is not None:
        listener(TRAINING, step, total, loss)


def on_step(pipeline: Any, index: int, _timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
    """diffusers' ``callback_on_step_end``: step ``index + 1`` of the call's denoising is done.

    After the last step the pipeline decodes the latents with the VAE, so the last step
    also announces decoding. The tensors pass through untouched (the pixels never change).
    """
    listener = _listener.get()
    if listener is not None:
        total = int(getattr(pipeline, "num_timesteps", 0) or 0)
        done = index + 1
        listener(DENOISING, done, max(total, done))
        if done >= total:
            listener(DECODING, 0, 0)
    return tensors


def preview_steps(count: int, total: int) -> list[int]:
    """The steps (1-based) after which ``count`` previews of a ``total``-step run are decoded:
    evenly spaced, before the last step (whose picture is the result), at most one per step."""
    last = max(1, total - 1)
    return sorted({min(last, max(1, math.ceil(k * total / (count + 1)))) for k in range(1, count + 1)})


def step_callback(
    previews: int, size: tuple[int, int] | None = None, crop: tuple[int, int] | None = None
) -> StepCallback:
    """The ``callback_on_step_end`` of a run of pictures of ``size`` that asked for
    ``previews`` partial pictures (cropped to ``crop`` from the top left, for a canvas wider
    than the output)."""
    sink = _preview_sink.get()
    if previews <= 0 or sink is None:
        return on_step
    taken: list[int] = []

    def callback(pipeline: Any, index: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        total = int(getattr(pipeline, "num_timesteps", 0) or 0)
        if index + 1 in preview_steps(previews, total) and len(taken) < previews:
            from sfumato.engine.previews import decode

            picture = decode(pipeline, tensors.get("latents"), size)
            if picture is not None:
                if crop is not None and picture.size != crop:
                    picture = picture.crop((0, 0, *crop))
                sink(picture, len(taken))
                taken.append(index + 1)
        return on_step(pipeline, index, timestep, tensors)

    return callback
