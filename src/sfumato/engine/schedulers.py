"""Leonardo's scheduler names → diffusers scheduler classes, and a fresh scheduler per run.

Schedulers share one interface in diffusers, so any of them plugs into any pipeline when
built from that pipeline's own scheduler config (which carries the model's beta schedule
and timestep spacing). This module stays free of torch at import time so the service can
validate a scheduler name before queuing.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

from sfumato.engine.errors import EngineError

# name → (diffusers class name, config overrides)
_TABLE: dict[str, tuple[str, dict[str, Any]]] = {
    "KLMS": ("LMSDiscreteScheduler", {}),
    "EULER_ANCESTRAL_DISCRETE": ("EulerAncestralDiscreteScheduler", {}),
    "EULER_DISCRETE": ("EulerDiscreteScheduler", {}),
    "DDIM": ("DDIMScheduler", {}),
    "DPM_SOLVER": ("DPMSolverMultistepScheduler", {}),
    "PNDM": ("PNDMScheduler", {"skip_prk_steps": True}),
    # Leonardo's own scheduler is not public. DPM++ 2M with Karras sigmas is the common
    # "good at few steps" default of open tools, so LEONARDO means that here.
    "LEONARDO": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
}
# Schedulers whose diffusers implementation imports scipy (KLMS integrates its
# coefficients numerically).
_NEEDS_SCIPY = frozenset({"KLMS"})


def scheduler_names() -> tuple[str, ...]:
    """Every scheduler name a request may carry (Leonardo's SdGenerationSchedulers)."""
    return tuple(_TABLE)


def check_scheduler(name: str | None) -> None:
    """Raise :class:`EngineError` unless ``name`` is None or a usable scheduler here."""
    if name is None:
        return
    if name not in _TABLE:
        raise EngineError(f"unknown scheduler {name!r}; known: {', '.join(scheduler_names())}")
    if name in _NEEDS_SCIPY and importlib.util.find_spec("scipy") is None:
        raise EngineError(f"the {name} scheduler needs scipy: `pip install scipy`")


def scheduler_class_name(name: str) -> str:
    """The diffusers class a name maps to, e.g. for lineage or listings."""
    check_scheduler(name)
    return _TABLE[name][0]


def make_scheduler(name: str | None, base: Any) -> Any:
    """A new scheduler for one run: ``name``'s class (or ``base``'s own) over ``base``'s config.

    Always a new object, even for None, because a scheduler keeps per-run state (its
    timesteps and step index) and two runs must never share one.
    """
    check_scheduler(name)
    config: Mapping[str, Any] = base.config
    if name is None:
        return type(base).from_config(config)
    import diffusers

    class_name, overrides = _TABLE[name]
    return getattr(diffusers, class_name).from_config(config, **overrides)
