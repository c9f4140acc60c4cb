"""Seamless tiling: wrap every convolution's padding around the image's edges.

With circular padding the left edge of each feature map is padded with its right edge (and
top with bottom), so the UNet and the VAE draw an image whose opposite sides continue each
other. The change is made on the shared modules for one run and always undone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def circular_padding(*modules: Any) -> Iterator[None]:
    """Switch every ``Conv2d`` inside ``modules`` to circular padding for the block."""
    import torch

    convs = [
        layer
        for module in modules
        if module is not None
        for layer in module.modules()
        if isinstance(layer, torch.nn.Conv2d)
    ]
    saved = [layer.padding_mode for layer in convs]
    try:
        for layer in convs:
            layer.padding_mode = "circular"
        yield
    finally:
        for layer, mode in zip(convs, saved, strict=True):
            layer.padding_mode = mode
