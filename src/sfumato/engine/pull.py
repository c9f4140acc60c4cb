"""Fetch a model's weights where a network exists (`sfumato models pull KEY`).

Jobs never download: a model whose weights are absent is refused at submission with the
catalog's instructions, so a server without a network behaves predictably. Only the files
a diffusers pipeline loads are fetched — one precision of each component, safetensors over
pickles, no single-file checkpoints beside the folders, no safety checker. A segmenter's
repository gives its configs and one set of weights; an upscaler is one file from a URL. A
model whose catalog entry names a ``vae`` gets that AutoencoderKL too (its config and one
set of weights), into ``models_dir/vae--<owner>--<name>``, shared by the models naming it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from sfumato.engine.catalog import (
    SAFETY_FAMILY,
    SEGMENTER_FAMILY,
    VAE_MARKER,
    ModelEntry,
    vae_dir,
    weights_dir,
    weights_path,
)
from sfumato.engine.errors import EngineError
from sfumato.engine.locks import file_lock
from sfumato.engine.tiny import build_tiny
from sfumato.engine.weights import WEIGHT_SUFFIXES, weight_variant

_CONFIG_SUFFIXES = (".json", ".txt", ".model")
# The SD 1.5 safety checker is a 1.2 GB CLIP vision model; sfumato loads pipelines without
# it (moderation is a service concern), so fetching it would only waste disk.
_SKIPPED_FOLDERS = frozenset({"safety_checker"})


def pull(entry: ModelEntry, models_dir: Path) -> Path:
    """Make ``entry``'s weights present and return their path.

    Hub models download into ``models_dir/<key>`` with their ready marker
    (``model_index.json``, a segmenter's ``config.json``) last, so an interrupted download
    is never mistaken for a ready model (and resumes when re-run); a URL's file is renamed
    into place once complete; tiny models are built; local sources are only checked. The
    entry's ``vae`` follows the same rules, after the weights.
    """
    path = _pull_weights(entry, models_dir)
    _pull_vae(entry, models_dir)
    return path


def _pull_weights(entry: ModelEntry, models_dir: Path) -> Path:
    target = weights_dir(entry, models_dir)
    if entry.source_kind == "tiny":
        build_tiny(entry.tiny_family, target)
        return weights_path(entry, models_dir)
    if entry.source_kind == "local":
        if not target.exists():
            raise EngineError(f"the weights of {entry.key} are not at {target}")
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    with file_lock(models_dir / f".{entry.key}.lock"):
        if entry.source_kind == "url":
            _download_file(entry.source, weights_path(entry, models_dir))
            return weights_path(entry, models_dir)
        transformers = entry.family in (SEGMENTER_FAMILY, SAFETY_FAMILY)
        chooser = select_segmenter_files if transformers else select_files
        marker = "config.json" if transformers else "model_index.json"
        _download(entry.source, target, chooser, marker)
    return target


def _pull_vae(entry: ModelEntry, models_dir: Path) -> None:
    """Fetch the entry's hub ``vae`` (config last), or check that its local one is there."""
    target = vae_dir(entry, models_dir)
    if target is None:
        return
    if entry.vae_kind == "local":
        if not (target / VAE_MARKER).is_file():
            raise EngineError(f"the VAE of {entry.key} is not at {target}: it has no {VAE_MARKER}")
        return
    models_dir.mkdir(parents=True, exist_ok=True)
    with file_lock(models_dir / f".{target.name}.lock"):
        _download(entry.vae, target, select_vae_files, VAE_MARKER)


def _download(repo_id: str, target: Path, chooser: Callable[[list[str]], list[str]], marker: str) -> None:
    from huggingface_hub import HfApi, snapshot_download

    try:
        files = chooser(HfApi().list_repo_files(repo_id))
        rest = [f for f in files if f != marker]
        snapshot_download(repo_id=repo_id, local_dir=target, allow_patterns=rest)
        snapshot_download(repo_id=repo_id, local_dir=target, allow_patterns=[marker])
    except Exception as exc:  # network, auth, missing repo: one clear line for the CLI
        raise EngineError(f"cannot fetch {repo_id}: {exc}") from exc


def _download_file(url: str, target: Path) -> None:
    """Fetch ``url`` to a temporary sibling of ``target``, renamed into place when complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            shutil.copyfileobj(response, out)
        os.replace(staging, target)
    except Exception as exc:  # network, HTTP status: one clear line for the CLI
        raise EngineError(f"cannot fetch {url}: {exc}") from exc
    finally:
        if os.path.exists(staging):
            os.unlink(staging)


def select_segmenter_files(repo_files: list[str]) -> list[str]:
    """A transformers checkpoint's top-level configs and one set of weights (safetensors
    over ``.bin``), sorted; it must have a ``config.json``."""
    if "config.json" not in repo_files:
        raise EngineError("not a transformers checkpoint: it has no config.json")
    top = [name for name in repo_files if "/" not in name]
    chosen = {name for name in top if name.endswith(_CONFIG_SUFFIXES)}
    chosen.update(_one_weight_set([name for name in top if name.endswith(WEIGHT_SUFFIXES)]))
    return sorted(chosen)


def select_vae_files(repo_files: list[str]) -> list[str]:
    """An AutoencoderKL repository's ``config.json`` and one set of its diffusers weights
    (``diffusion_pytorch_model*``; the single-file copies for other tools stay behind)."""
    if VAE_MARKER not in repo_files:
        raise EngineError("not a diffusers AutoencoderKL repository: it has no config.json")
    weights = [
        name
        for name in repo_files
        if "/" not in name and name.startswith("diffusion_pytorch_model") and name.endswith(WEIGHT_SUFFIXES)
    ]
    if not weights:
        raise EngineError("not a diffusers AutoencoderKL repository: it has no diffusion_pytorch_model files")
    return sorted([VAE_MARKER, *_one_weight_set(weights)])


def select_files(repo_files: list[str]) -> list[str]:
    """Choose the files of a diffusers repository that a pipeline needs, sorted.

    Keeps ``model_index.json``, each component's configs and tokenizer files, and per
    component folder one set of weights: the fp16 variant when there is one (half the
    download; it is upcast on CPUs), else the plain files, with safetensors preferred over
    ``.bin``. Top-level checkpoints (``v1-5-pruned.safetensors`` and the like) and ONNX,
    Flax or TF exports are left out.
    """
    chosen: set[str] = set()
    weights_by_folder: dict[str, list[str]] = defaultdict(list)
    for name in repo_files:
        if name == "model_index.json":
            chosen.add(name)
            continue
        if "/" not in name:
            continue
        folder = name.split("/", 1)[0]
        if folder in _SKIPPED_FOLDERS:
            continue
        if name.endswith(WEIGHT_SUFFIXES):
            weights_by_folder[folder].append(name)
        elif name.endswith(_CONFIG_SUFFIXES):
            chosen.add(name)
    for names in weights_by_folder.values():
        chosen.update(_one_weight_set(names))
    if "model_index.json" not in chosen:
        raise EngineError("not a diffusers repository: it has no model_index.json")
    return sorted(chosen)


def _one_weight_set(names: list[str]) -> list[str]:
    for suffix in (".safetensors", ".bin"):
        candidates = [n for n in names if n.endswith(suffix)]
        if not candidates:
            continue
        for variant in ("fp16", None):
            picked = [n for n in candidates if weight_variant(n) == variant]
            if picked:
                return picked
        return candidates
    return []
