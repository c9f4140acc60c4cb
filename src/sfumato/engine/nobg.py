"""Background removal: a panoptic segmentation model says which pixels belong to objects.

The model is Mask2Former trained on COCO panoptic (``transformers``, no remote code; the
Swin-tiny checkpoint runs on a CPU in about a second). COCO splits its 133 classes into 80
*things* — people, animals, vehicles, furniture, food, objects — and 53 *stuff* classes —
sky, wall, grass, road. A picture's subject is its things, so each pixel's alpha is the
model's own probability that the pixel is a thing:

    P(class) = Σ over queries of P(query is class) × P(pixel in query's mask)
    alpha    = P(things) / (P(things) + P(stuff))

the same per-pixel class scores Mask2Former's semantic inference uses, kept soft so edges
(hair, fur) fade instead of being cut. The colour channels are the input's, untouched.

Segmenters are catalog models of the ``segmenter`` family (``mask2former-coco``, the tiny
``tiny-mask2former`` built offline, or a directory a setting names by path), loaded through
the engine's pipeline cache like every other model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sfumato.engine import report
from sfumato.engine.catalog import SEGMENTER_FAMILY
from sfumato.engine.errors import EngineError
from sfumato.engine.specs import ImageOutput

if TYPE_CHECKING:
    from PIL.Image import Image

    from sfumato.engine.txt2img import Engine

# COCO panoptic's 80 thing classes (ids 0-79), as the checkpoints' id2label spells them.
COCO_THINGS = frozenset(
    ("person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
     "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
     "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
     "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
     "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
     "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
     "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
     "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
     "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
     "teddy bear", "hair drier", "toothbrush")
)  # fmt: skip


def remove_background(engine: Engine, segmenter: str, image: Image) -> ImageOutput:
    """``image`` as RGBA: its own colours, and as alpha the model's foreground probability."""
    import numpy as np
    from PIL import Image as PILImage

    rgb = image.convert("RGB")
    entry = engine.catalog.require(segmenter, SEGMENTER_FAMILY)
    with engine.pipelines.lease(entry) as loaded:
        model = loaded.pipeline.model
        report.stage(report.SEGMENTING)
        alpha = foreground_probability(model, loaded.pipeline.processor, rgb)
    pixels = np.dstack([np.asarray(rgb), np.round(alpha * 255.0).astype(np.uint8)])
    lineage = {
        "task": "nobg",
        "segmenter": segmenter,
        "segmenter_fingerprint": loaded.fingerprint,
        "segmenter_architecture": type(model).__name__,
        "width": rgb.width,
        "height": rgb.height,
        "device": engine.pipelines.device,
    }
    return ImageOutput(images=[PILImage.fromarray(pixels)], seeds=[], lineage=lineage)


def foreground_probability(model: Any, processor: Any, image: Image) -> Any:
    """Per-pixel P(thing) in [0, 1] at ``image``'s size (a float32 array, height × width)."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    things = _thing_ids(model.config.id2label)
    inputs = processor(images=image, return_tensors="pt")
    device = next(model.parameters()).device
    with torch.inference_mode():
        outputs = model(pixel_values=inputs["pixel_values"].to(device))
    classes = outputs.class_queries_logits.float().softmax(dim=-1)[..., :-1]  # drop "no object"
    masks = outputs.masks_queries_logits.float().sigmoid()
    scores = torch.einsum("bqc,bqhw->bchw", classes, masks)
    is_thing = torch.zeros(scores.shape[1], dtype=torch.bool, device=scores.device)
    is_thing[list(things)] = True
    thing = scores[:, is_thing].sum(dim=1, keepdim=True)
    total = scores.sum(dim=1, keepdim=True)
    probability = (thing / total.clamp_min(1e-6)).clamp(0, 1)
    # Masks cover the processor's (possibly padded) input; crop its valid part, then size back.
    padded_h, padded_w = inputs["pixel_values"].shape[-2:]
    probability = F.interpolate(probability, size=(padded_h, padded_w), mode="bilinear", align_corners=False)
    valid = inputs.get("pixel_mask")
    if valid is not None:
        rows, cols = valid[0].bool().any(dim=1), valid[0].bool().any(dim=0)
        probability = probability[:, :, : int(rows.sum()), : int(cols.sum())]
    probability = F.interpolate(
        probability, size=(image.height, image.width), mode="bilinear", align_corners=False
    )
    return probability[0, 0].cpu().numpy().astype(np.float32)


def _thing_ids(id2label: dict[int, str]) -> set[int]:
    things = {int(index) for index, name in id2label.items() if name in COCO_THINGS}
    if not things or len(things) == len(id2label):
        raise EngineError(
            "the segmentation model's labels must include both COCO thing classes (the "
            "foreground) and other classes (the background); use a COCO panoptic checkpoint"
        )
    return things
