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

Segmenters are named: ``mask2former-coco`` is a transformers directory at
``<models_dir>/mask2former-coco``; ``tiny-mask2former`` is a tiny random one built offline
(its alpha is noise); anything else is a path to a Mask2Former (or MaskFormer) directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sfumato.engine import report
from sfumato.engine.errors import EngineError
from sfumato.engine.locks import file_lock
from sfumato.engine.specs import ImageOutput

if TYPE_CHECKING:
    from PIL.Image import Image

    from sfumato.engine.txt2img import Engine

TINY_SEGMENTER = "tiny-mask2former"
DEFAULT_SEGMENTER = "mask2former-coco"
KNOWN_SEGMENTERS = {"mask2former-coco": "facebook/mask2former-swin-tiny-coco-panoptic"}
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
_TINY_LABELS = {0: "person", 1: "cat", 2: "sky-other-merged", 3: "wall-other-merged"}
_TINY_SEED = 20240612


def weights_path(segmenter: str, models_dir: Path) -> Path:
    if segmenter in (TINY_SEGMENTER, *KNOWN_SEGMENTERS):
        return models_dir / segmenter
    return Path(segmenter).expanduser()


def is_ready(segmenter: str, models_dir: Path) -> bool:
    """Whether background removal can run here without a network (tiny is built on demand)."""
    return segmenter == TINY_SEGMENTER or (weights_path(segmenter, models_dir) / "config.json").is_file()


def is_loaded(segmenter: str, models_dir: Path, device: str) -> bool:
    """Whether this process holds ``segmenter`` on ``device`` already (a worker's model affinity)."""
    return (str(weights_path(segmenter, models_dir)), device) in _models


def how_to_obtain(segmenter: str, models_dir: Path) -> str:
    path = weights_path(segmenter, models_dir)
    if segmenter in KNOWN_SEGMENTERS:
        return (
            f"run `hf download {KNOWN_SEGMENTERS[segmenter]} --local-dir {path}` on a machine with "
            "network access, or set SFUMATO_SEGMENTER"
        )
    return f"put a Mask2Former checkpoint directory at {path}, or set SFUMATO_SEGMENTER (see the README)"


def remove_background(engine: Engine, segmenter: str, image: Image) -> ImageOutput:
    """``image`` as RGBA: its own colours, and as alpha the model's foreground probability."""
    import numpy as np
    from PIL import Image as PILImage

    rgb = image.convert("RGB")
    model, processor = _load(weights_path(segmenter, engine.models_dir), engine.pipelines.device)
    report.stage(report.SEGMENTING)
    alpha = foreground_probability(model, processor, rgb)
    pixels = np.dstack([np.asarray(rgb), np.round(alpha * 255.0).astype(np.uint8)])
    lineage = {
        "task": "nobg",
        "segmenter": segmenter,
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


def build_tiny_segmenter(target: Path) -> None:
    """A tiny random Mask2Former (a 4-stage Swin of 8 channels; 115 k parameters) with its
    image processor, saved like a hub checkpoint; two of its four labels are COCO things."""
    if (target / "config.json").is_file():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(target.parent / f".{target.name}.lock"):
        if (target / "config.json").is_file():
            return
        import torch
        from transformers import (
            Mask2FormerConfig,
            Mask2FormerForUniversalSegmentation,
            Mask2FormerImageProcessor,
            SwinConfig,
        )

        backbone = SwinConfig(
            image_size=64,
            patch_size=4,
            embed_dim=8,
            depths=[1, 1, 1, 1],
            num_heads=[1, 1, 2, 2],
            window_size=4,
            out_features=["stage1", "stage2", "stage3", "stage4"],  # type: ignore[call-arg]
        )
        config = Mask2FormerConfig(
            backbone_config=backbone,
            feature_size=32,  # the pixel decoder's group norms need multiples of 32
            mask_feature_size=32,
            hidden_dim=32,
            encoder_feedforward_dim=32,
            dim_feedforward=32,
            encoder_layers=1,
            decoder_layers=2,
            num_attention_heads=2,
            num_queries=8,
            id2label=_TINY_LABELS,
            label2id={name: index for index, name in _TINY_LABELS.items()},
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_TINY_SEED)
            model = Mask2FormerForUniversalSegmentation(config).eval()
            # The default init gives near-flat masks, hence a flat alpha: spread the class
            # and mask heads so that queries differ and the alpha varies across the picture.
            torch.nn.init.normal_(model.class_predictor.weight, std=0.3)
            torch.nn.init.normal_(model.model.pixel_level_module.decoder.mask_projection.weight, std=1.0)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            processor = Mask2FormerImageProcessor(size={"shortest_edge": 64, "longest_edge": 256})
            processor.save_pretrained(staging)
            model.save_pretrained(staging)
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)


_models: dict[tuple[str, str], tuple[Any, Any]] = {}
_models_lock = threading.Lock()


def _load(path: Path, device: str) -> tuple[Any, Any]:
    """The segmentation model and its image processor in ``path``, loaded once per process."""
    with _models_lock:
        cached = _models.get((str(path), device))
        if cached is not None:
            return cached
        if path.name == TINY_SEGMENTER:
            build_tiny_segmenter(path)
        if not (path / "config.json").is_file():
            raise EngineError(f"no segmentation model at {path}")
        from transformers import AutoImageProcessor, AutoModelForUniversalSegmentation

        try:
            model = AutoModelForUniversalSegmentation.from_pretrained(str(path)).to(device).eval()
            processor = AutoImageProcessor.from_pretrained(str(path))
        except Exception as exc:
            raise EngineError(f"cannot load the segmentation model at {path}: {exc}") from exc
        _thing_ids(model.config.id2label)
        _models[(str(path), device)] = (model, processor)
        return model, processor


def _thing_ids(id2label: dict[int, str]) -> set[int]:
    things = {int(index) for index, name in id2label.items() if name in COCO_THINGS}
    if not things or len(things) == len(id2label):
        raise EngineError(
            "the segmentation model's labels must include both COCO thing classes (the "
            "foreground) and other classes (the background); use a COCO panoptic checkpoint"
        )
    return things
