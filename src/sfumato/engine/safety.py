"""The output safety check: an image classifier's probability that a picture is unsafe.

The classifier is a catalog model of the ``safety`` family: a transformers
image-classification checkpoint (``nsfw-vit``, a ViT fine-tuned on normal vs NSFW
pictures, or any other whose labels name unsafe classes), or the tiny random one built
offline (``tiny-safety``). A picture's unsafe score is the summed probability of its unsafe
labels; its category is the likeliest of them. One call classifies a whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sfumato.engine.catalog import SAFETY_FAMILY

if TYPE_CHECKING:
    from PIL.Image import Image

    from sfumato.engine.txt2img import Engine

# Labels that mean "unsafe" in the checkpoints of the field (NSFW detectors name them so).
UNSAFE_LABELS = frozenset(("nsfw", "porn", "hentai", "sexy", "unsafe", "explicit", "nudity"))
# Classified a few at a time: a large batch of large pictures stays within memory.
_CHUNK = 16


@dataclass(frozen=True)
class Verdict:
    score: float  # P(unsafe), in [0, 1]
    category: str  # the likeliest unsafe label


def classify(engine: Engine, model: str, images: Sequence[Image]) -> list[Verdict]:
    """Each picture's verdict, in order, from the catalog model ``model`` (family safety)."""
    if not images:
        return []
    entry = engine.catalog.require(model, SAFETY_FAMILY)
    with engine.pipelines.lease(entry) as loaded:
        classifier = loaded.pipeline
        verdicts: list[Verdict] = []
        for start in range(0, len(images), _CHUNK):
            chunk = [image.convert("RGB") for image in images[start : start + _CHUNK]]
            verdicts += _verdicts(classifier.model, classifier.processor, chunk)
    return verdicts


def _verdicts(model: Any, processor: Any, images: list[Image]) -> list[Verdict]:
    import torch

    labels = {int(index): str(name).lower() for index, name in model.config.id2label.items()}
    unsafe = [index for index, name in labels.items() if name in UNSAFE_LABELS]
    if not unsafe:
        raise ValueError(f"the classifier's labels ({', '.join(labels.values())}) name no unsafe class")
    inputs = processor(images=images, return_tensors="pt").to(model.device)
    with torch.inference_mode():
        probabilities = model(**inputs).logits.float().softmax(dim=-1).cpu()
    verdicts = []
    for row in probabilities:
        scores = {index: float(row[index]) for index in unsafe}
        worst = max(scores, key=lambda index: scores[index])
        verdicts.append(Verdict(score=min(1.0, sum(scores.values())), category=labels[worst]))
    return verdicts


def blurred(image: Image) -> Image:
    """``image`` blurred past recognition, at the same size and mode: a Gaussian blur whose
    radius is a tenth of the shorter side (at least 4 px)."""
    from PIL import ImageFilter

    radius = max(4.0, min(image.width, image.height) / 10)
    return image.filter(ImageFilter.GaussianBlur(radius))
