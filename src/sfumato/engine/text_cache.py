"""Prompt encodings kept per loaded model, so a repeated prompt skips the text encoders.

A prompt is encoded the same way every time, so its encoding can be reused: the pixels do
not change at all. The cache belongs to one loaded model (it goes when the model is
evicted) and is keyed by everything the pipeline's ``encode_prompt`` is given — prompt,
negative prompt, images per prompt, guidance on or off, device. Where it pays most is a
prompt run again and again on its own: the realtime canvas redraws one prompt at every
stroke, and a client asking for more seeds repeats its prompt.

A batch of several prompts (dynamic batching) is encoded in one call, as without the
cache: encoding its prompts one by one to reuse a few would cost more text-encoder calls
than it saves, and encoding them together or apart rounds differently, so a batched
image's pixels would depend on what the cache happened to hold.

Only Stable Diffusion-style pipelines (SD 1.5, SD 2, SDXL, LCM), whose encodings are laid
out one row per image, are cached; a run whose text encoders carry LoRA adapters encodes
afresh.
"""

from __future__ import annotations

import inspect
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

_CACHED_PIPELINES = ("StableDiffusion", "LatentConsistency")
_TEXT_ENCODERS = ("text_encoder", "text_encoder_2")


class TextCache:
    """Least recently used prompt encodings of one model, at most ``size`` of them."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, tuple[Any, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def install(self, pipeline: Any) -> None:
        """Route ``pipeline``'s (a per-run copy's) ``encode_prompt`` through this cache."""
        if self.size <= 0 or not type(pipeline).__name__.startswith(_CACHED_PIPELINES):
            return
        encode = pipeline.encode_prompt
        signature = inspect.signature(encode)

        def encode_prompt(*args: Any, **kwargs: Any) -> Any:
            arguments = signature.bind(*args, **kwargs).arguments
            if _adapted(pipeline) or not _plain(arguments):
                return encode(*args, **kwargs)
            return self._encode(encode, arguments)

        object.__setattr__(pipeline, "encode_prompt", encode_prompt)

    def _encode(self, encode: Callable[..., Any], arguments: dict[str, Any]) -> Any:
        prompt = arguments["prompt"]
        if isinstance(prompt, list):
            if len(prompt) != 1:
                return encode(**arguments)
            arguments = {**arguments, "prompt": prompt[0]}
            arguments = {name: _first(value) for name, value in arguments.items()}
        return self._one(encode, arguments)

    def _one(self, encode: Callable[..., Any], arguments: dict[str, Any]) -> tuple[Any, ...]:
        key = tuple(sorted((name, _hashable(value)) for name, value in arguments.items()))
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return found
        encoded = tuple(encode(**arguments))
        with self._lock:
            self.misses += 1
            self._entries[key] = encoded
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return encoded


def _first(value: Any) -> Any:
    """A one-prompt call's argument given as a list of one (a negative prompt), unwrapped."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _plain(arguments: dict[str, Any]) -> bool:
    """Only strings, numbers, flags and devices: precomputed embeddings are not cached."""
    import torch

    def plain(value: Any) -> bool:
        if isinstance(value, list):
            return all(isinstance(item, str) for item in value)
        return value is None or isinstance(value, str | int | float | bool | torch.device)

    return all(plain(value) for name, value in arguments.items() if name != "lora_scale") and (
        arguments.get("lora_scale") is None
    )


def _hashable(value: Any) -> Hashable:
    return (
        tuple(value) if isinstance(value, list) else str(value) if not isinstance(value, Hashable) else value
    )


def _adapted(pipeline: Any) -> bool:
    """Whether a text encoder carries LoRA adapters now (they change its output)."""
    return any(getattr(getattr(pipeline, name, None), "peft_config", None) for name in _TEXT_ENCODERS)
