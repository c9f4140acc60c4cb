"""Silence the libraries' tqdm bars, which break the server's one-line-per-event logs."""

from __future__ import annotations


def quiet_progress_bars() -> None:
    """Turn off diffusers' and transformers' progress bars (process-wide, idempotent)."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
