"""DeepCache-style feature reuse: the UNet's deep blocks run every N-th step only.

Ma et al., "DeepCache: Accelerating Diffusion Models for Free" (2023): from one denoising
step to the next, a UNet's high-level features (everything below its outermost down and up
blocks) barely change, while the outermost blocks carry the detail. So on a full step
every block runs and the outputs of the inner ones are kept; on the steps between, the
UNet runs as usual but each inner block hands back its kept output instead of computing —
only the time embedding, the first down block, the last up block and the output
convolution do any work. The skip connections the last up block reads come from the first
down block, which runs every step, so the picture stays sharp; what drifts is composition
detail, which is why this is an opt-in quality mode and not a default.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def reusing(unet: Any, interval: int) -> Iterator[None]:
    """Within the block, ``unet`` computes its inner blocks on every ``interval``-th call
    only (the first call of the block included) and reuses their outputs in between."""
    inner = [*unet.down_blocks[1:], unet.mid_block, *unet.up_blocks[:-1]]
    inner = [block for block in inner if block is not None]
    calls = [-1]
    kept: dict[int, Any] = {}

    def count(_module: Any, _args: Any) -> None:
        calls[0] += 1

    def reuse(index: int, forward: Any) -> Any:
        def forward_or_reuse(*args: Any, **kwargs: Any) -> Any:
            if calls[0] % interval == 0 or index not in kept:
                kept[index] = forward(*args, **kwargs)
            return kept[index]

        return forward_or_reuse

    handle = unet.register_forward_pre_hook(count)
    for index, block in enumerate(inner):
        block.forward = reuse(index, block.forward)
    try:
        yield
    finally:
        handle.remove()
        for block in inner:
            del block.forward  # the instance attribute goes; the class's forward is back
