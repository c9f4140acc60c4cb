"""How many tokens a prompt is, by the model's own tokenizer (for usage reports).

A pipeline with several text encoders reads the prompt through each; the count is that of
its last tokenizer, the one of its largest encoder (T5 for FLUX.1 and SD 3.5, OpenCLIP-G
for SDXL, CLIP for SD 1.5, Qwen2 for Qwen-Image). The whole prompt is counted, special
tokens included, even past what the encoder reads (CLIP truncates at 77).
"""

from __future__ import annotations

from typing import Any

_TOKENIZERS = ("tokenizer_3", "tokenizer_2", "tokenizer")  # the last one a pipeline has comes first


def prompt_tokens(pipeline: Any, prompt: str | None) -> int | None:
    """The token count of ``prompt`` (0 for none); None when the pipeline has no tokenizer."""
    tokenizer = next((t for name in _TOKENIZERS if (t := getattr(pipeline, name, None)) is not None), None)
    if tokenizer is None:
        return None
    if not prompt:
        return 0
    return len(tokenizer(prompt, truncation=False, add_special_tokens=True)["input_ids"])


def lineage(pipeline: Any, prompt: str | None, negative_prompt: str | None) -> dict[str, object]:
    """The run's token counts as lineage entries (none when the pipeline has no tokenizer)."""
    counted = prompt_tokens(pipeline, prompt)
    if counted is None:
        return {}
    return {"prompt_tokens": counted, "negative_prompt_tokens": prompt_tokens(pipeline, negative_prompt)}
