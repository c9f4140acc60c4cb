"""Blueprints: named, versioned workflows of steps over sfumato's job kinds, declared in TOML."""

from sfumato.blueprints.definitions import Blueprint, BlueprintError, Node, Version
from sfumato.blueprints.library import Library, load

__all__ = ["Blueprint", "BlueprintError", "Library", "Node", "Version", "load"]
