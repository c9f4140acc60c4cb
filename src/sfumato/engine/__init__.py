"""Inference only: model catalog, pipeline cache and task runners.

Takes typed specs, returns images and lineage; knows nothing of HTTP, databases or blobs.
Importing this package is cheap — torch and diffusers load only when a pipeline is built
or run — so the API server can use the catalog and the specs without paying for them.
"""

from sfumato.engine.catalog import Catalog, ModelEntry
from sfumato.engine.errors import EngineError
from sfumato.engine.specs import ImageOutput, TextToImageSpec
from sfumato.engine.txt2img import Engine

__all__ = [
    "Catalog",
    "Engine",
    "EngineError",
    "ImageOutput",
    "ModelEntry",
    "TextToImageSpec",
]
