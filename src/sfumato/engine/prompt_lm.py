"""A small instruct language model that writes prompts (transformers causal LM).

``PromptLM`` loads any causal LM through ``from_pretrained`` — a local directory or a hub
repo id (downloaded where a network exists) — and, when its tokenizer has a chat
template, speaks to it as an instruct model. ``tiny`` is a randomly initialised GPT-2
shape built offline into the models directory, like the tiny image models: it exercises
the very same loading and generation path, and its text is noise.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from pathlib import Path
from typing import Any

TINY = "tiny"
TINY_DIR = "tiny-prompt-lm"
MAX_INPUT_TOKENS = 512


def build_tiny(path: Path) -> Path:
    """A tiny random GPT-2 and a byte-level BPE tokenizer, saved with ``save_pretrained``."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    if (path / "config.json").is_file():
        return path
    corpus = ["a photograph of a lighthouse at dusk, cinematic lighting, highly detailed, 35mm"] * 4
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=320, min_frequency=1, special_tokens=["<|endoftext|>"])
    end = "<|endoftext|>"
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token=end, bos_token=end, pad_token=end)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        config = GPT2Config(
            vocab_size=len(tokenizer),
            n_positions=MAX_INPUT_TOKENS + 128,
            n_embd=32,
            n_layer=2,
            n_head=2,
            bos_token_id=tokenizer.eos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        model = GPT2LMHeadModel(config)
    staging = path.with_name(f"{path.name}.partial-{uuid.uuid4().hex[:8]}")
    tokenizer.save_pretrained(staging)
    model.save_pretrained(staging)
    try:
        staging.rename(path)
    except OSError:  # another process finished first; its copy is the same model
        shutil.rmtree(staging, ignore_errors=True)
    return path


class PromptLM:
    """One loaded model; calls are serialised (a model's generate is not re-entrant on one device)."""

    def __init__(self, source: str, models_dir: Path, device: str = "cpu") -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        location = str(build_tiny(models_dir / TINY_DIR)) if source == TINY else source
        self.tokenizer: Any = AutoTokenizer.from_pretrained(location)
        model: Any = AutoModelForCausalLM.from_pretrained(location)
        self.model: Any = model.to(device).eval()
        self.device = device
        self._lock = threading.Lock()

    def write(self, system: str, user: str, *, seed: int, max_new_tokens: int = 60) -> str:
        """The model's reply to ``user`` under ``system`` instructions, sampled with ``seed``."""
        import torch

        if getattr(self.tokenizer, "chat_template", None):
            messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:
            text = f"{system}\n\n{user}\n"
        inputs = self.tokenizer(text, return_tensors="pt", truncation=True, max_length=MAX_INPUT_TOKENS)
        inputs = {name: tensor.to(self.device) for name, tensor in inputs.items()}
        with self._lock, torch.random.fork_rng(devices=[]), torch.inference_mode():
            torch.manual_seed(seed)
            output = self.model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=True,
                top_p=0.9,
                temperature=0.8,
                pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
            )
        reply = output[0][inputs["input_ids"].shape[1] :]
        return str(self.tokenizer.decode(reply, skip_special_tokens=True))
