"""OpenAI's ``usage`` for an image answer, counted from what the run really took and made.

* Text tokens: the prompt's (and negative prompt's) tokens by the model's own tokenizer,
  counted by the worker that ran it (``engine/tokens.py``) and kept in the lineage.
* Image tokens: one per 16×16-pixel patch (a 2×2 patch of the 8× VAE's latents, the unit
  today's transformer families denoise), rounded up on each side: a 1024×1024 picture is
  4096 tokens. Output tokens are those of every picture drawn; input image tokens those
  of every picture the model was shown (an edit's picture and references, a variation's
  picture), at the size it saw them: the output's.
"""

from __future__ import annotations

import math
from typing import Any

from sfumato.service.views import GenerationView

PATCH = 16  # pixels per image token, each way


def image_tokens(width: int, height: int) -> int:
    return math.ceil(width / PATCH) * math.ceil(height / PATCH)


def per_picture(view: GenerationView, *, input_pictures: int) -> list[dict[str, Any]]:
    """:func:`usage` split over the pictures (a stream's ``completed`` events), adding up to
    it: the first carries the input tokens, each its own picture's output tokens."""
    whole = usage(view, input_pictures=input_pictures)
    drawn = image_tokens(view.width, view.height)
    split = []
    for position in range(len(view.images)):
        inputs = whole["input_tokens"] if position == 0 else 0
        details = whole["input_tokens_details"] if position == 0 else {"text_tokens": 0, "image_tokens": 0}
        split.append({
            "input_tokens": inputs, "input_tokens_details": details, "output_tokens": drawn,
            "total_tokens": inputs + drawn,
        })  # fmt: skip
    return split


def usage(view: GenerationView, *, input_pictures: int) -> dict[str, Any]:
    """The ``usage`` object of a finished generation that was shown ``input_pictures`` pictures."""
    lineage = view.lineage
    text = int(lineage.get("prompt_tokens") or 0) + int(lineage.get("negative_prompt_tokens") or 0)
    per_picture = image_tokens(view.width, view.height)
    shown = input_pictures * per_picture
    drawn = len(view.images) * per_picture
    return {
        "input_tokens": text + shown,
        "input_tokens_details": {"text_tokens": text, "image_tokens": shown},
        "output_tokens": drawn,
        "output_tokens_details": {"text_tokens": 0, "image_tokens": drawn},
        "total_tokens": text + shown + drawn,
    }
