"""Fetch a model's weights where a network exists (`sfumato models pull KEY`).

Jobs never download: a model whose weights are absent is refused at submission with the
catalog's instructions, so a server without a network behaves predictably. Only the files
a diffusers pipeline loads are fetched — one precision of each component, safetensors over
pickles, no single-file checkpoints beside the folders, no safety checker.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from sfumato.engine.catalog import ModelEntry, weights_dir
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

    Hub models download into ``models_dir/<key>`` with ``model_index.json`` last, so an
    interrupted download is never mistaken for a ready model (and resumes when re-run);
    tiny models are built; local sources are only checked.
    """
    target = weights_dir(entry, models_dir)
    if entry.source_kind == "tiny":
        build_tiny(entry.tiny_family, target)
        return target
    if entry.source_kind == "local":
        if not target.exists():
            raise EngineError(f"the weights of {entry.key} are not at {target}")
        return target
    with file_lock(models_dir / f".{entry.key}.lock"):
        _download(entry.source, target)
    return target


def _download(repo_id: str, target: Path) -> None:
    from huggingface_hub import HfApi, snapshot_download

    try:
        files = select_files(HfApi().list_repo_files(repo_id))
        weights = [f for f in files if f != "model_index.json"]
        snapshot_download(repo_id=repo_id, local_dir=target, allow_patterns=weights)
        snapshot_download(repo_id=repo_id, local_dir=target, allow_patterns=["model_index.json"])
    except Exception as exc:  # network, auth, missing repo: one clear line for the CLI
        raise EngineError(f"cannot fetch {repo_id}: {exc}") from exc


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
