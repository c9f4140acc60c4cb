"""Where a run is: its stage and, while denoising, step k of N, told to whoever listens.

The engine knows nothing of jobs or databases. Whoever runs a task and wants to follow it
(the worker, for its jobs' progress) installs a :data:`Report` with :func:`reporting`
around the call; engine code announces stages with :func:`stage` and hands
:func:`on_step` to diffusers' ``callback_on_step_end``. With nobody listening both cost a
context-variable lookup. The listener is called on the thread that runs the pipeline, so
it must be quick: record the news and return.
"""

from __future__ import annotations

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

_listener: ContextVar[Report | None] = ContextVar("sfumato_report", default=None)


@contextmanager
def reporting(report: Report) -> Iterator[None]:
    """Send the stages and steps of the runs inside the block to ``report``."""
    token = _listener.set(report)
    try:
        yield
    finally:
        _listener.reset(token)


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
