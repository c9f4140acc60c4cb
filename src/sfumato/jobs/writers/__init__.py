"""Writers, one per artifact type: each encodes an output, uploads it under the attempt's own
key and returns its ``Artifact`` record (``png``, ``mp4``, ``files`` for opaque files)."""

from sfumato.jobs.writers.files import store_file
from sfumato.jobs.writers.mp4 import store_mp4, store_streamed_mp4
from sfumato.jobs.writers.png import store_generation_images, store_png

__all__ = ["store_file", "store_generation_images", "store_mp4", "store_png", "store_streamed_mp4"]
