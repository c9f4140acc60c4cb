"""Leonardo's ``presetStyle`` values as prompt templates.

A style wraps the user's prompt with words that steer an open model the same way;
``{prompt}`` marks where the user's text goes. NONE, UNPROCESSED and LEONARDO leave
the prompt untouched.
"""

from __future__ import annotations

STYLE_TEMPLATES: dict[str, tuple[str, str]] = {
    # style: (positive template, extra negative prompt)
    "ANIME": (
        "anime artwork, {prompt}, anime style, key visual, vibrant, studio anime",
        "photo, realistic",
    ),
    "BOKEH": ("{prompt}, bokeh, shallow depth of field, blurred background, soft lights", ""),
    "CINEMATIC": (
        "cinematic film still, {prompt}, shallow depth of field, film grain, moody",
        "cartoon, drawing",
    ),
    "CINEMATIC_CLOSEUP": (
        "cinematic close-up shot, {prompt}, detailed face, dramatic lighting",
        "cartoon",
    ),
    "CREATIVE": ("{prompt}, imaginative, artistic, highly detailed", ""),
    "DYNAMIC": ("{prompt}, dynamic composition, vivid, detailed", ""),
    "ENVIRONMENT": ("{prompt}, environment art, wide landscape, atmospheric", ""),
    "FASHION": ("fashion photography, {prompt}, editorial, studio lighting", ""),
    "FILM": ("analog film photo, {prompt}, faded film, grain", ""),
    "FOOD": ("food photography, {prompt}, appetizing, detailed", ""),
    "GENERAL": ("{prompt}", ""),
    "HDR": ("HDR photo, {prompt}, high dynamic range, vivid colors", "flat, low contrast"),
    "ILLUSTRATION": ("illustration, {prompt}, clean lines, detailed", "photo"),
    "LEONARDO": ("{prompt}", ""),
    "LONG_EXPOSURE": ("long exposure photo, {prompt}, motion trails", ""),
    "MACRO": ("macro photo, {prompt}, extreme close-up, fine detail", ""),
    "MINIMALISTIC": ("minimalist, {prompt}, simple, clean, negative space", "cluttered"),
    "MONOCHROME": ("monochrome, {prompt}, black and white", "color"),
    "MOODY": ("{prompt}, moody, dark, atmospheric lighting", ""),
    "NONE": ("{prompt}", ""),
    "NEUTRAL": ("{prompt}, neutral tones, balanced lighting", ""),
    "PHOTOGRAPHY": ("photograph, {prompt}, 50mm, sharp focus", "drawing, painting"),
    "PORTRAIT": ("portrait, {prompt}, detailed face, soft light", ""),
    "RAYTRACED": ("{prompt}, ray traced, global illumination, reflections", ""),
    "RENDER_3D": ("3d render, {prompt}, octane render, detailed", "photo"),
    "RETRO": ("retro style, {prompt}, vintage colors", ""),
    "SKETCH_BW": ("black and white pencil sketch, {prompt}", "color"),
    "SKETCH_COLOR": ("colored pencil sketch, {prompt}", ""),
    "STOCK_PHOTO": ("stock photo, {prompt}, professional, well lit", ""),
    "VIBRANT": ("{prompt}, vibrant, saturated colors", "dull"),
    "UNPROCESSED": ("{prompt}", ""),
}


def apply_style(style: str | None, prompt: str, negative_prompt: str | None) -> tuple[str, str | None]:
    """The prompt and negative prompt the model actually sees."""
    if style is None:
        return prompt, negative_prompt
    template, extra_negative = STYLE_TEMPLATES[style]
    styled = template.format(prompt=prompt)
    if not extra_negative:
        return styled, negative_prompt
    negative = f"{negative_prompt}, {extra_negative}" if negative_prompt else extra_negative
    return styled, negative
