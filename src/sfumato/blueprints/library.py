"""The blueprints a server offers: those shipped in the package, then the operator's own.

The package's files are in ``sfumato/blueprints/builtin``; an operator adds ``*.toml`` files
to ``$SFUMATO_HOME/blueprints``. Ids (of blueprints and of their versions) must be unique
across both: a clash is an error naming both files, not a silent override.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sfumato.blueprints.definitions import Blueprint, BlueprintError, Version, parse_file


@dataclass(frozen=True)
class Library:
    blueprints: tuple[Blueprint, ...]  # by name, then id

    def get(self, blueprint_id: str) -> Blueprint | None:
        return next((b for b in self.blueprints if b.id == blueprint_id), None)

    def version(self, version_id: str) -> tuple[Blueprint, Version] | None:
        for blueprint in self.blueprints:
            for version in blueprint.versions:
                if version.id == version_id:
                    return blueprint, version
        return None


def builtin_dir() -> Path:
    return Path(str(resources.files("sfumato.blueprints") / "builtin"))


def load(operator_dir: Path | None) -> Library:
    """Every blueprint file, checked; :class:`BlueprintError` for the first one at fault."""
    found = [parse_file(path, official=True) for path in sorted(builtin_dir().glob("*.toml"))]
    if operator_dir is not None and operator_dir.is_dir():
        found += [parse_file(path, official=False) for path in sorted(operator_dir.glob("*.toml"))]
    owners: dict[str, Path] = {}
    for blueprint in found:
        for an_id in (blueprint.id, *(version.id for version in blueprint.versions)):
            if an_id in owners:
                raise BlueprintError(
                    f"blueprint file {blueprint.source}: id {an_id} is already used by {owners[an_id]}"
                )
            owners[an_id] = blueprint.source
    return Library(tuple(sorted(found, key=lambda b: (b.name.lower(), b.id))))
