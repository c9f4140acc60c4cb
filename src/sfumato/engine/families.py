"""What each image-generation family takes: sizes, guidance, negative prompts, samplers.

The UNet families of 2022-23 (SD 1.5, SDXL, SD-Turbo, LCM, SDXL-Lightning) all take
classifier-free guidance with a negative prompt, any of Leonardo's scheduler names and any
multiple of 8 pixels. Today's transformer families differ, and a request must be mapped
onto each honestly rather than passed through and silently misread:

* **FLUX.1 [dev]** and **Kontext** are *guidance-distilled*: the guidance scale is an input
  the transformer embeds (3.5 by default), not a second pass with a negative prompt, so
  they take no negative prompt.
* **FLUX.1 [schnell]** is timestep-distilled to 1-4 steps and takes no guidance at all.
* **SD 3.5** runs classic guidance with a negative prompt.
* **Qwen-Image** runs "true" guidance (``true_cfg_scale``, a second pass over the negative
  prompt, a blank one when none is given).

All of them pack 2×2 latents (or patches) on top of the VAE's 8× reduction, so sizes are
multiples of 16, and sample with their own flow-matching scheduler, which Leonardo's
scheduler names (DDPM-family samplers) cannot replace. Circular padding for tiling
reaches into a UNet, which they do not have.

Like the catalog, this module stays free of torch: the service validates with it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Guidance = Literal["cfg", "embedded", "none", "true-cfg"]
EditTask = Literal["image_to_image", "inpaint", "instruct"]


@dataclass(frozen=True)
class Traits:
    """One family's parameter space, as requests are checked against it."""

    size_step: int = 8  # width and height are multiples of this
    guidance: Guidance = "cfg"
    negative_prompt: bool = True
    leonardo_schedulers: bool = True  # takes Leonardo's scheduler names
    tiling: bool = True
    edits: tuple[EditTask, ...] = ("image_to_image", "inpaint")
    # Whether its image-to-image pipeline must be told the output size (the transformer
    # pipelines default to 1024² rather than the input picture's size).
    sized_edits: bool = False
    # Keywords every call of the family's pipelines takes (FLUX.1 [schnell] reads 256 T5
    # tokens, the length it was distilled with; diffusers' default is [dev]'s 512).
    fixed_arguments: tuple[tuple[str, object], ...] = ()
    label: str = ""  # how messages name the family


_UNET = Traits()
_TRANSFORMER = Traits(size_step=16, leonardo_schedulers=False, tiling=False, sized_edits=True)
_FLUX = replace(_TRANSFORMER, guidance="embedded", negative_prompt=False)

TRAITS: dict[str, Traits] = {
    "sd15": Traits(label="Stable Diffusion 1.5"),
    "sdxl": Traits(label="SDXL"),
    "sd-turbo": Traits(label="SD-Turbo"),
    "lcm": Traits(label="LCM"),
    "sdxl-lightning": Traits(label="SDXL-Lightning"),
    "flux-dev": replace(_FLUX, label="FLUX.1 [dev]"),
    "flux-schnell": replace(
        _FLUX, guidance="none", fixed_arguments=(("max_sequence_length", 256),), label="FLUX.1 [schnell]"
    ),
    "flux-kontext": replace(_FLUX, edits=("instruct",), label="FLUX.1 Kontext"),
    "sd3": replace(_TRANSFORMER, label="Stable Diffusion 3.5"),
    "qwen-image": replace(_TRANSFORMER, guidance="true-cfg", label="Qwen-Image"),
}
# The families this module adds beyond the UNet ones, in catalog order.
TRANSFORMER_FAMILIES = ("flux-schnell", "flux-dev", "flux-kontext", "sd3", "qwen-image")
DISTILLED_UNET_FAMILIES = ("sdxl-lightning",)


def traits(family: str) -> Traits:
    """``family``'s traits; a family this module does not name behaves like SD."""
    return TRAITS.get(family, _UNET)


def refusal(
    family: str,
    *,
    width: int,
    height: int,
    guidance_scale: float | None,
    negative_prompt: str | None,
    scheduler: str | None,
    tiling: bool,
) -> str | None:
    """Why ``family`` cannot take these parameters, in a client's words; None if it can.

    ``guidance_scale`` and ``scheduler`` are what the client asked for (None: left to the
    model), not the defaults filled in for it.
    """
    t = traits(family)
    name = t.label or family
    for side, value in (("width", width), ("height", height)):
        if value % t.size_step:
            return f"{side} {value} must be a multiple of {t.size_step} for {name} models"
    if negative_prompt and not t.negative_prompt:
        return (
            f"{name} models take no negative_prompt: they are guidance-distilled and never "
            "run a negative pass; describe what you want in the prompt instead"
        )
    if t.guidance == "none" and guidance_scale:
        return (
            f"{name} models take no guidance_scale: they are distilled to draw in a few steps "
            "without guidance; leave it out"
        )
    if scheduler and not t.leonardo_schedulers:
        return f"{name} models sample with their own flow-matching scheduler; leave scheduler out"
    if tiling and not t.tiling:
        return f"{name} models cannot draw tiling images"
    return None


def call_arguments(
    family: str, guidance_scale: float, negative_prompt: str | list[str] | None
) -> dict[str, object]:
    """The pipeline call's guidance, negative-prompt and fixed keywords for ``family``."""
    t = traits(family)
    return {**_guidance_arguments(t, guidance_scale, negative_prompt), **dict(t.fixed_arguments)}


def _guidance_arguments(
    t: Traits, guidance_scale: float, negative_prompt: str | list[str] | None
) -> dict[str, object]:
    if t.guidance == "none":
        return {}
    if t.guidance == "embedded":
        return {"guidance_scale": guidance_scale}
    if t.guidance == "true-cfg":
        # A true-guidance pass needs a negative prompt; a blank one is the model card's default.
        if isinstance(negative_prompt, list):
            return {"true_cfg_scale": guidance_scale, "negative_prompt": [n or " " for n in negative_prompt]}
        return {"true_cfg_scale": guidance_scale, "negative_prompt": negative_prompt or " "}
    return {"guidance_scale": guidance_scale, "negative_prompt": negative_prompt}


def size_arguments(family: str, width: int, height: int) -> dict[str, object]:
    """The text-to-image call's size keywords. Kontext otherwise rescales every request to
    about one megapixel (``max_area``) and snaps a picture to its preferred sizes."""
    if "instruct" in traits(family).edits:
        return {"width": width, "height": height, "max_area": width * height, "_auto_resize": False}
    return {"width": width, "height": height}


def edit_arguments(family: str, width: int, height: int, strength: float) -> dict[str, object]:
    """The image-to-image call's size and strength keywords.

    An instruction-editing model (Kontext) reads the picture as context beside the prompt
    and draws anew from noise: it has no ``strength``, so ``init_strength`` does not apply.
    """
    t = traits(family)
    if "instruct" in t.edits:
        return size_arguments(family, width, height)
    sized = {"width": width, "height": height} if t.sized_edits else {}
    return {**sized, "strength": strength}
