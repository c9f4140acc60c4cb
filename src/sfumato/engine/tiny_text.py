"""Tiny text encoders and tokenizers for the transformer-denoiser families, built offline.

FLUX, SD3, LTX-Video, Wan and their kin condition on T5-class encoders (Wan on UMT5) beside
or instead of CLIP. The tiny ones follow the shapes diffusers' own pipeline tests use
(``d_model`` 32, a few layers) and a byte-level tokenizer with no merges, so every prompt
maps to distinct tokens — a different prompt really gives a different embedding — and
nothing is fetched. The tokenizer is a ``PreTrainedTokenizerFast``: it saves to and loads
from a pipeline directory through ``from_pretrained`` like a real one.
"""

from __future__ import annotations

from typing import Any

T5_WIDTH = 32  # d_model of every tiny T5-class encoder; a tiny denoiser's text input width
_PAD, _EOS, _UNK = "<pad>", "</s>", "<unk>"


def t5_encoder(*, seed: int, umt5: bool = False, width: int = T5_WIDTH) -> Any:
    """A T5 (or UMT5, for Wan) encoder-only model of ``width`` over :func:`byte_tokenizer`'s vocabulary."""
    import torch
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    fields: dict[str, Any] = {
        "vocab_size": _vocab_size(),
        "d_model": width,
        "d_ff": 37,
        "d_kv": 8,
        "num_heads": 4,
        "num_layers": 2,
        "pad_token_id": 0,
        "eos_token_id": 1,
        "decoder_start_token_id": 0,
    }
    torch.manual_seed(seed)
    if umt5:
        return UMT5EncoderModel(UMT5Config(**fields))
    return T5EncoderModel(T5Config(**fields))


def byte_tokenizer(*, max_length: int = 128) -> Any:
    """A fast tokenizer whose tokens are the UTF-8 bytes of the text, then ``</s>``.

    Ids 0–2 are pad, end and unknown as in T5; the 256 byte-level characters follow, in
    sorted order, so every byte has an id of its own.
    """
    from tokenizers import Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers.models import BPE
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {_PAD: 0, _EOS: 1, _UNK: 2}
    for index, char in enumerate(sorted(alphabet)):
        vocab[char] = index + 3
    model = Tokenizer(BPE(vocab=vocab, merges=[], unk_token=_UNK))
    model.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    model.decoder = decoders.ByteLevel()
    model.post_processor = processors.TemplateProcessing(single=f"$A {_EOS}", special_tokens=[(_EOS, 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=model,
        pad_token=_PAD,
        eos_token=_EOS,
        unk_token=_UNK,
        model_max_length=max_length,
    )


def _vocab_size() -> int:
    return 3 + 256
