"""How much memory a device has free and how much a loaded pipeline takes.

Workers advertise the first; the pipeline cache budgets with the second. Both are
estimates meant for scheduling decisions, not accounting: a pipeline's size is the bytes
of its weights and buffers, not counting activations during a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MEMINFO = Path("/proc/meminfo")


def free_memory_bytes(device: str) -> int | None:
    """Free memory of ``device`` in bytes, or None where it cannot be known."""
    if device.startswith("cuda"):
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def pipeline_bytes(pipeline: Any) -> int:
    """Bytes of the weights and buffers of every torch module a loaded model holds: a
    diffusers pipeline's components, or the network an upscaler or a segmenter wraps."""
    return sum(component_bytes(pipeline).values())


def component_bytes(pipeline: Any) -> dict[str, int]:
    """:func:`pipeline_bytes` per component (``model`` for an upscaler or a segmenter)."""
    import torch

    sizes: dict[str, int] = {}
    parts = getattr(pipeline, "components", None)
    if parts is None:
        parts = {"model": getattr(pipeline, "model", pipeline)}
    for name, component in parts.items():
        if isinstance(component, torch.nn.Module):
            tensors = (*component.parameters(), *component.buffers())
            sizes[name] = sum(tensor.numel() * tensor.element_size() for tensor in tensors)
    return sizes
