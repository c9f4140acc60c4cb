"""Loaded models, kept warm up to a bound and handed out one run at a time.

Every model in the catalog loads here — diffusers pipelines, upscalers and segmenters — so
one count bound and one memory budget see them all.

Loading a real model takes seconds to minutes and gigabytes of device memory, so the cache
keeps the ``max_loaded`` most recently used pipelines and evicts the least recently used
one before loading another (before, not after, so a GPU never has to hold one more model
than the bound allows).

How runs share a pipeline — the choice made here, and why:

* **A fresh scheduler per run, on a shallow copy.** A scheduler keeps per-run state
  (timesteps, step index) and a pipeline keeps per-call attributes (guidance scale, step
  count), so two runs on one pipeline object corrupt each other. Each run therefore gets
  ``copy.copy(pipeline)`` — a new pipeline object sharing the same model modules, built in
  microseconds with no weight copied — whose scheduler is a deep copy of a pristine one
  built once per model and scheduler name from the cached pipeline's scheduler config
  (a copy is the same object a new build gives, at a fifth of the cost of building it,
  which validates the config and computes the noise schedule). Neither the cached pipeline
  nor a pristine scheduler is ever run, so a run that asks for another scheduler cannot
  leak it, or its state, into the next run.
* **One run per pipeline at a time.** The model modules are shared, and a run may change
  them for its duration (tiling switches every convolution to circular padding). A
  per-pipeline run lock keeps such a change from reaching another run. Little is lost:
  two runs on one device contend for it rather than overlap, and throughput comes from
  batching images into one call, which the worker does.

Eviction takes the evicted pipeline's run lock, so a pipeline is never freed under a run.
An upscaler or a segmenter has no scheduler and no per-call state: its lease hands out the
shared model itself, under the same run lock.
"""

from __future__ import annotations

import copy
import gc
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sfumato.engine import fast_paths, loaders, report
from sfumato.engine.catalog import Catalog, ModelEntry, vae_dir, weights_path
from sfumato.engine.errors import EngineError
from sfumato.engine.fast_paths import FastPaths
from sfumato.engine.memory_choices import resident_bytes, torch_dtype
from sfumato.engine.schedulers import check_scheduler, make_scheduler
from sfumato.engine.text_cache import TextCache
from sfumato.engine.tiny import build_tiny
from sfumato.engine.weights import weights_fingerprint


@dataclass
class LoadedPipeline:
    """A pipeline ready for one run, with the facts its lineage needs."""

    pipeline: Any
    key: str
    fingerprint: str
    device: str
    dtype: str
    fast: FastPaths = fast_paths.EAGER  # the fast paths its runs take
    fast_names: tuple[str, ...] = ()  # those applied to it, for the lineage
    vae: str = ""  # the catalog's vae that replaced the pipeline's own (empty: its own ran)
    vae_hash: str = ""  # that VAE's weights fingerprint

    def vae_lineage(self) -> dict[str, str]:
        """What a lineage records of the VAE: the catalog's ``vae`` and its fingerprint, when
        one replaced the pipeline's own (nothing when the model's own VAE ran)."""
        return {"vae": self.vae, "vae_hash": self.vae_hash} if self.vae else {}


@dataclass
class _Slot:
    loaded: LoadedPipeline | None
    texts: TextCache = field(default_factory=lambda: TextCache(0))  # its prompt encodings
    run_lock: threading.Lock = field(default_factory=threading.Lock)
    size: int = 0  # bytes of weights and buffers, for the memory budget
    extra: int = 0  # bytes its runs add while they hold it (LoRA adapters), also budgeted
    # Never-run schedulers by Leonardo name (None: the model's own), copied for each run;
    # read and filled under ``run_lock``.
    schedulers: dict[str | None, Any] = field(default_factory=dict)

    def fresh_scheduler(self, name: str | None, base: Any) -> Any:
        """A new scheduler for one run: a copy of the pristine ``name`` one, built on first use."""
        pristine = self.schedulers.get(name)
        if pristine is None:
            pristine = self.schedulers[name] = make_scheduler(name, base)
        return copy.deepcopy(pristine)


class PipelineCache:
    """Up to ``max_loaded`` pipelines on ``device``, most recently used kept."""

    def __init__(
        self,
        catalog: Catalog,
        models_dir: Path,
        device: str = "auto",
        max_loaded: int = 2,
        memory_budget: int | None = None,
        fast: FastPaths | None = None,
    ) -> None:
        """``device`` "auto" picks CUDA when present, else the CPU; nothing loads yet.

        ``memory_budget`` (bytes) also bounds the weights kept: after a load, least recently
        used models go until the rest fit. A model's size is known only once it is loaded,
        so the budget can be exceeded by one model while it loads.

        ``fast`` chooses the fast paths image pipelines take (default: the ones that keep
        pixels within a level of eager mode; see fast_paths.py).
        """
        if max_loaded < 1:
            raise ValueError("max_loaded must be at least 1")
        self.catalog = catalog
        self.models_dir = models_dir
        self.max_loaded = max_loaded
        self.memory_budget = memory_budget
        self.fast = fast if fast is not None else FastPaths()
        self._device_request = device
        self._device: str | None = None
        self._slots: OrderedDict[str, _Slot] = OrderedDict()
        self._lock = threading.Lock()
        self._load_locks: dict[str, threading.Lock] = {}
        self._pinned: set[str] = set()

    @property
    def device(self) -> str:
        """The torch device runs use; resolving "auto" imports torch, so it waits until asked."""
        if self._device is None:
            self._device = _resolve_device(self._device_request)
        return self._device

    def loaded_keys(self) -> list[str]:
        """Keys of the loaded models, least recently used first (for model affinity)."""
        with self._lock:
            return list(self._slots)

    def loaded_bytes(self) -> int:
        """Bytes of weights and buffers of the loaded models, with the adapters runs hold on them."""
        with self._lock:
            return sum(slot.size + slot.extra for slot in self._slots.values())

    def text_cache(self, key: str) -> TextCache | None:
        """The prompt encodings kept for loaded model ``key`` (None when it is not loaded)."""
        with self._lock:
            slot = self._slots.get(key)
        return slot.texts if slot is not None else None

    def pin(self, key: str) -> None:
        """Keep ``key`` loaded once it is: eviction passes it over and it does not count
        toward ``max_loaded`` (the realtime model must never wait for a reload)."""
        with self._lock:
            self._pinned.add(key)

    def get(self, entry: ModelEntry) -> Any:
        """The cached pipeline of ``entry``, loading (and for tiny models building) it once.

        The object returned is shared: read it, but run it through :meth:`lease`.
        """
        loaded = self._slot(entry).loaded
        if loaded is None:  # evicted in the instant since; load it again
            return self.get(entry)
        return loaded.pipeline

    @contextmanager
    def lease(
        self, entry: ModelEntry, scheduler: str | None = None, extra_bytes: int = 0
    ) -> Iterator[LoadedPipeline]:
        """Hold ``entry``'s pipeline for one run, as a copy with its own fresh scheduler.

        ``scheduler`` is a Leonardo scheduler name, or None for the model's own.
        ``extra_bytes`` is what the run adds to the model while it holds it (its LoRA
        adapters): it counts in the memory budget for the run's length, and least recently
        used models leave first to make room for it.
        """
        check_scheduler(scheduler)
        while True:
            slot = self._slot(entry)
            self._hold_extra(slot, entry.key, extra_bytes)
            slot.run_lock.acquire()
            if slot.loaded is not None:
                break
            slot.run_lock.release()  # evicted between lookup and lock: load again
            self._drop_extra(slot, extra_bytes)
        try:
            shared = slot.loaded
            if not entry.is_pipeline:
                yield shared
                return
            view = copy.copy(shared.pipeline)
            view.scheduler = slot.fresh_scheduler(scheduler, shared.pipeline.scheduler)
            slot.texts.install(view)
            yield replace(shared, pipeline=view)
        finally:
            slot.run_lock.release()
            self._drop_extra(slot, extra_bytes)

    def _hold_extra(self, slot: _Slot, key: str, extra: int) -> None:
        """Count ``extra`` bytes on ``slot`` and evict others until the budget holds them.

        Called before the run lock is taken: eviction waits for other models' runs, and a
        run waiting for this one's lock must never be waited for in turn.
        """
        if not extra:
            return
        with self._lock:
            slot.extra += extra
            excess = self._pop_over_budget(keep=key)
        self._release(excess)

    def _drop_extra(self, slot: _Slot, extra: int) -> None:
        if extra:
            with self._lock:
                slot.extra -= extra

    def evict(self, key: str) -> None:
        """Drop one model from memory, waiting for its current run to finish."""
        with self._lock:
            slot = self._slots.pop(key, None)
        if slot is not None:
            self._release([slot])

    def clear(self) -> None:
        """Drop every model (at shutdown, or to hand the device to something else)."""
        with self._lock:
            slots = list(self._slots.values())
            self._slots.clear()
        self._release(slots)

    def _slot(self, entry: ModelEntry) -> _Slot:
        with self._lock:
            slot = self._slots.get(entry.key)
            if slot is not None:
                self._slots.move_to_end(entry.key)
                return slot
            load_lock = self._load_locks.setdefault(entry.key, threading.Lock())
        # One loader per model; others wait here and then find the loaded slot.
        with load_lock:
            with self._lock:
                slot = self._slots.get(entry.key)
                if slot is not None:
                    self._slots.move_to_end(entry.key)
                    return slot
                room = self._pop_lru(extra=0 if entry.key in self._pinned else 1)
            self._release(room)
            report.stage(report.LOADING)
            loaded = self._load(entry)
            texts = TextCache(self.fast.text_cache if entry.generates_images else 0)
            slot = _Slot(loaded, texts, size=resident_bytes(entry, loaded.pipeline, self.device))
            with self._lock:
                self._slots[entry.key] = slot
                excess = self._pop_lru(extra=0) + self._pop_over_budget(keep=entry.key)
            self._release(excess)
            return slot

    def _pop_lru(self, extra: int) -> list[_Slot]:
        """Remove the least recently used unpinned slots until ``extra`` more fit the bound."""
        unpinned = [key for key in self._slots if key not in self._pinned]
        excess = max(0, len(unpinned) + extra - self.max_loaded)
        return [self._slots.pop(key) for key in unpinned[:excess]]

    def _pop_over_budget(self, keep: str) -> list[_Slot]:
        """Remove least recently used unpinned slots (never ``keep``) until the rest fit the budget."""
        if self.memory_budget is None:
            return []
        total = sum(slot.size + slot.extra for slot in self._slots.values())
        popped = []
        for key in [k for k in self._slots if k not in self._pinned and k != keep]:
            if total <= self.memory_budget:
                break
            slot = self._slots.pop(key)
            total -= slot.size + slot.extra
            popped.append(slot)
        return popped

    def _release(self, slots: list[_Slot]) -> None:
        if not slots:
            return
        for slot in slots:
            with slot.run_lock:  # never free a pipeline under a running call
                slot.loaded = None
        gc.collect()
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    def _load(self, entry: ModelEntry) -> LoadedPipeline:
        path, vae = on_disk(self.catalog, entry, self.models_dir)
        device = self.device
        # Upscalers and segmenters run in full precision, as they always have; pipelines
        # take the catalog entry's half precision on a GPU (memory_choices.py).
        dtype = torch_dtype(entry, device)
        pipeline = loaders.load(entry, path, device, dtype, vae)
        # Image pipelines only: video pipelines and upscalers keep their eager path.
        applied = fast_paths.prepare(pipeline, self.fast) if entry.generates_images else []
        return LoadedPipeline(
            pipeline=pipeline,
            key=entry.key,
            fingerprint=weights_fingerprint(path),
            device=device,
            dtype=str(dtype).removeprefix("torch."),
            fast=self.fast if entry.generates_images else fast_paths.EAGER,
            fast_names=tuple(applied),
            **vae_record(entry, vae),
        )


def on_disk(catalog: Catalog, entry: ModelEntry, models_dir: Path) -> tuple[Path, Path | None]:
    """What a loader opens for ``entry``: its weights and its catalog ``vae`` directory (None:
    the model's own), a tiny model built first; :class:`EngineError` saying how to obtain them
    when either is not on this machine."""
    if entry.is_tiny:
        build_tiny(entry.tiny_family, catalog.weights_dir(entry, models_dir))
    if not catalog.is_ready(entry, models_dir):  # its weights, or its catalog vae
        raise EngineError(
            f"the weights of model {entry.key} are not on this machine: {catalog.how_to_obtain(entry)}"
        )
    return weights_path(entry, models_dir), vae_dir(entry, models_dir)


def vae_record(entry: ModelEntry, vae: Path | None) -> dict[str, str]:
    """What is recorded of a catalog ``vae`` loaded from ``vae``: its name and its weights'
    fingerprint (nothing when the model's own VAE runs)."""
    return {"vae": entry.vae, "vae_hash": weights_fingerprint(vae)} if vae is not None else {}


def _resolve_device(request: str) -> str:
    import torch

    if request != "auto":
        return request
    return "cuda" if torch.cuda.is_available() else "cpu"
