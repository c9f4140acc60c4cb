"""Video upscale: a clip's frames through the catalog's super-resolution model, one at a time.

Each frame is enlarged by the upscaler (ESRGAN-class, ×4 for the usual ones) and resampled
to the target size (720 px high, the width by the clip's aspect, even), then handed to the
sink (the MP4 encoder) before the next frame is read: decode → upscale → encode, streamed,
so a clip is never held in memory. Families with a latent upsampler (LTX-Video's) would
upscale before decoding; the clips here are finished MP4s, so every family takes this way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from sfumato.engine import report
from sfumato.engine.catalog import UPSCALER_FAMILY
from sfumato.engine.upscale import super_resolve

if TYPE_CHECKING:
    from sfumato.engine.txt2img import Engine


def upscale_frames(
    engine: Engine,
    upscaler: str,
    frames: Iterable[Any],
    size: tuple[int, int],
    sink: Callable[[Any], None],
    *,
    total: int = 0,
) -> dict[str, object]:
    """Enlarge each of ``frames`` (H×W×3 uint8) to ``size`` and hand it to ``sink``; the lineage."""
    from PIL import Image

    entry = engine.catalog.require(upscaler, UPSCALER_FAMILY)
    count = 0
    with engine.pipelines.lease(entry) as loaded:
        for frame in frames:
            report.stage(report.UPSCALING, count, total)
            enlarged = super_resolve(loaded.pipeline, Image.fromarray(frame))
            sink(enlarged.resize(size, Image.Resampling.LANCZOS) if enlarged.size != size else enlarged)
            count += 1
    return {
        "task": "video_upscale",
        "upscaler": entry.key,
        "weights_hash": loaded.fingerprint,
        "scale": int(loaded.pipeline.scale),
        "width": size[0],
        "height": size[1],
        "frame_count": count,
        "device": loaded.device,
    }
