"""Leonardo scheduler names → diffusers schedulers."""

from __future__ import annotations

import pytest

from sfumato.engine import EngineError
from sfumato.engine.schedulers import make_scheduler, scheduler_class_name, scheduler_names

LEONARDO_SCHEDULERS = {
    "KLMS",
    "EULER_ANCESTRAL_DISCRETE",
    "EULER_DISCRETE",
    "DDIM",
    "DPM_SOLVER",
    "PNDM",
    "LEONARDO",
}


def test_every_leonardo_name_is_known() -> None:
    assert set(scheduler_names()) == LEONARDO_SCHEDULERS


@pytest.mark.parametrize(
    ("name", "class_name"),
    [
        ("KLMS", "LMSDiscreteScheduler"),
        ("EULER_ANCESTRAL_DISCRETE", "EulerAncestralDiscreteScheduler"),
        ("EULER_DISCRETE", "EulerDiscreteScheduler"),
        ("DDIM", "DDIMScheduler"),
        ("DPM_SOLVER", "DPMSolverMultistepScheduler"),
        ("PNDM", "PNDMScheduler"),
        ("LEONARDO", "DPMSolverMultistepScheduler"),
    ],
)
def test_names_map_to_classes(name: str, class_name: str) -> None:
    from diffusers import PNDMScheduler

    base = PNDMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    scheduler = make_scheduler(name, base)
    assert scheduler_class_name(name) == class_name
    assert type(scheduler).__name__ == class_name
    # The model's noise schedule carries over to the new scheduler.
    assert scheduler.config["beta_schedule"] == "scaled_linear"
    assert scheduler.config["beta_end"] == 0.012


def test_leonardo_uses_karras_sigmas() -> None:
    from diffusers import EulerDiscreteScheduler

    assert make_scheduler("LEONARDO", EulerDiscreteScheduler()).config["use_karras_sigmas"]


def test_none_gives_a_fresh_copy_of_the_models_own() -> None:
    from diffusers import EulerAncestralDiscreteScheduler

    base = EulerAncestralDiscreteScheduler(timestep_spacing="trailing")
    fresh = make_scheduler(None, base)
    assert fresh.config["timestep_spacing"] == "trailing"
    assert type(fresh) is type(base) and fresh is not base


def test_unknown_name_is_refused() -> None:
    with pytest.raises(EngineError, match="unknown scheduler 'FAST'"):
        scheduler_class_name("FAST")


def test_klms_without_scipy_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "scipy" else real(name, *a)
    )
    with pytest.raises(EngineError, match="needs scipy"):
        scheduler_class_name("KLMS")
