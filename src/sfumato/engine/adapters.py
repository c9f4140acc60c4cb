"""LoRA adapters on a cached pipeline, for one run at a time.

A run that asks for adapters (a custom model, elements) loads them onto the pipeline it
holds — the base weights stay where they are, only the small low-rank matrices are added —
activates them with their weights, and deletes them when the run ends, whatever happens.
The pipeline cache lets one run at a time hold a pipeline, so no run ever sees another
run's adapters; a run without adapters finds the model exactly as loaded. Adapters with
weight 0 are not loaded at all: their run is the base model's, pixel for pixel.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sfumato.engine.errors import EngineError


@dataclass(frozen=True)
class Adapter:
    """A LoRA file (diffusers' safetensors layout) and the weight to apply it with."""

    sha256: str  # the file's content hash: its identity
    weights: bytes = field(repr=False)
    weight: float = 1.0


class Weighted(Protocol):
    @property
    def sha256(self) -> str: ...

    @property
    def weight(self) -> float: ...


def adapter_set_key(adapters: Sequence[Weighted]) -> str:
    """What runs that may share a pipeline call must agree on: the same adapters, same weights."""
    return ",".join(f"{a.sha256}:{float(a.weight)!r}" for a in adapters if a.weight != 0)


def resident_bytes(adapters: Sequence[Adapter]) -> int:
    """What the adapters a run applies add to its model's memory: their tensors' bytes
    (the file's size bounds them from above; weight-0 adapters are never loaded)."""
    return sum(len(adapter.weights) for adapter in adapters if adapter.weight != 0)


@contextmanager
def applied(pipeline: Any, adapters: Sequence[Adapter]) -> Iterator[None]:
    """Run the block with ``adapters`` active on ``pipeline``; removed again on the way out."""
    active = [adapter for adapter in adapters if adapter.weight != 0]
    if not active:
        yield
        return
    from safetensors.torch import load

    names: list[str] = []
    try:
        for index, adapter in enumerate(active):
            name = f"lora{index}-{adapter.sha256[:12]}"
            try:
                with warnings.catch_warnings():  # peft warns that a second adapter joins the first: meant
                    warnings.filterwarnings("ignore", message="Already found a `peft_config`")
                    # diffusers' own LoRA layout (its training recipe's) names attention layers in its
                    # older style, which peft's consistency check reports while loading them correctly
                    warnings.filterwarnings("ignore", message="While injecting the PEFT adapters")
                    pipeline.load_lora_weights(load(adapter.weights), adapter_name=name)
            except Exception as exc:
                raise EngineError(f"cannot load LoRA {adapter.sha256[:12]} onto this model: {exc}") from exc
            names.append(name)
        pipeline.set_adapters(names, adapter_weights=[adapter.weight for adapter in active])
        yield
    finally:
        if names:
            pipeline.delete_adapters(names)
