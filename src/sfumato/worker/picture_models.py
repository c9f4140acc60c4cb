"""The upscalers and segmenters a worker can run, by the names variation jobs carry."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sfumato.engine import nobg, upscale


@dataclass(frozen=True)
class PictureModels:
    """The upscalers and segmenters that can run here, by the names variation jobs carry as
    their model key (so a worker advertising a name is one that can load it)."""

    upscalers: frozenset[str]
    segmenters: frozenset[str]

    @classmethod
    def ready(
        cls, models_dir: Path, *, upscalers: Iterable[str] = (), segmenters: Iterable[str] = ()
    ) -> PictureModels:
        """The tiny ones (built on demand), the known names whose weights are present, and
        ``upscalers`` / ``segmenters`` (configured names or paths) whose weights are present."""
        upscaler_names = (upscale.TINY_UPSCALER, *upscale.KNOWN_UPSCALERS, *upscalers)
        segmenter_names = (nobg.TINY_SEGMENTER, *nobg.KNOWN_SEGMENTERS, *segmenters)
        return cls(
            upscalers=frozenset(n for n in upscaler_names if upscale.is_ready(n, models_dir)),
            segmenters=frozenset(n for n in segmenter_names if nobg.is_ready(n, models_dir)),
        )

    @property
    def names(self) -> frozenset[str]:
        return self.upscalers | self.segmenters

    def loaded(self, models_dir: Path, device: str) -> list[str]:
        """Those this process holds on ``device`` already."""
        held = [n for n in self.upscalers if upscale.is_loaded(n, models_dir, device)]
        held += [n for n in self.segmenters if nobg.is_loaded(n, models_dir, device)]
        return sorted(held)
