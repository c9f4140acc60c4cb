"""A blueprint version and a caller's node inputs, turned into priced steps before anything is written.

Each node becomes the job another use case would queue for it — a text-to-image plan from
``service.generations``, a variation payload, a clip from ``service.videos`` — with its
price and the columns of the generation that records its output. The node inputs are
checked here (the node and setting exist, the value has the setting's type, every required
one is given), so a bad request is refused before anything is charged.

Without inputs (``values=None``) the plan is the version's quote: placeholders stand for
themselves and a first picture is assumed of the default size.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sfumato.blueprints.definitions import (
    IMAGE_TO_VIDEO,
    IMAGE_URL,
    PLACEHOLDER,
    REMOVE_BACKGROUND,
    TEXT,
    TEXT_TO_IMAGE,
    TEXT_VARIABLES,
    Node,
    Version,
)
from sfumato.engine import upscale
from sfumato.engine.catalog import SEGMENTER_FAMILY, UPSCALER_FAMILY
from sfumato.errors import InvalidRequest
from sfumato.jobs.kinds import text_to_image, variation, video
from sfumato.service import availability, generations, videos
from sfumato.service.context import Context
from sfumato.service.keys import Principal
from sfumato.store.models import new_id

ASSUMED_PICTURE = (512, 512)  # a first picture's size while quoting, before one is given
Values = dict[str, dict[str, Any]]  # node id -> setting name -> value


@dataclass(frozen=True)
class NodeInput:
    """One ``nodeInputs`` entry: a string for text and imageUrl, (name, value) pairs for textVariables."""

    node_id: str
    setting: str
    value: str | list[tuple[str, str]]


@dataclass(frozen=True)
class PlannedStep:
    node: Node
    cost: int
    job_kind: str
    job_payload: dict[str, Any]  # the kind's encoded payload, less its input picture
    source_field: str | None  # where the input picture's blob key goes
    generation: dict[str, Any]  # its generation's columns (id, account and price aside)
    generation_id: str
    models: tuple[str, ...]
    texts: tuple[str | None, ...] = ()  # what the content policy reads


def read_inputs(version: Version, inputs: list[NodeInput]) -> Values:
    """The inputs by node and setting; a 400 for an unknown node or setting, a value of the wrong
    type, a repeated setting or a required one left out."""
    nodes = {node.id: node for node in version.nodes}
    values: Values = {}
    for index, given in enumerate(inputs):
        where = f"nodeInputs[{index}]"
        node = nodes.get(given.node_id)
        if node is None:
            raise InvalidRequest(
                f"{where}.nodeId: {given.node_id!r} is not a node of this version "
                f"(its nodes: {', '.join(nodes)})"
            )
        if given.setting not in node.inputs:
            allowed = ", ".join(node.inputs) or "none"
            raise InvalidRequest(
                f"{where}.settingName: node {node.id!r} takes no {given.setting!r} (it takes: {allowed})"
            )
        wants_list = given.setting == TEXT_VARIABLES
        if wants_list != isinstance(given.value, list):
            kind = "an array of {name, value}" if wants_list else "a string"
            raise InvalidRequest(f"{where}.value: {given.setting} takes {kind}")
        if isinstance(given.value, str) and not given.value.strip():
            raise InvalidRequest(f"{where}.value: {given.setting} must not be empty")
        settings = values.setdefault(node.id, {})
        if given.setting in settings:
            raise InvalidRequest(f"{where}: node {node.id!r} has {given.setting!r} twice")
        settings[given.setting] = dict(given.value) if isinstance(given.value, list) else given.value
    for node in version.nodes:
        if IMAGE_URL in node.required() and IMAGE_URL not in values.get(node.id, {}):
            raise InvalidRequest(f"nodeInputs: node {node.id!r} needs its picture (settingName imageUrl)")
    return values


def plan(
    ctx: Context,
    principal: Principal,
    version: Version,
    values: Values | None,
    *,
    public: bool = False,
    picture_size: tuple[int, int] = ASSUMED_PICTURE,
) -> list[PlannedStep]:
    """Every step of the version, in order, priced; ``values=None`` quotes the version.
    ``picture_size``: the size of the first step's picture, when it starts from one."""
    steps: list[PlannedStep] = []
    size = picture_size
    for node in version.nodes:
        given = (values or {}).get(node.id, {})
        prompt = _prompt(node, given, quoting=values is None)
        if node.task == TEXT_TO_IMAGE:
            step = _text_to_image(ctx, principal, node, prompt, public)
        elif node.task == IMAGE_TO_VIDEO:
            step = _image_to_video(ctx, node, prompt, size)
        else:
            step = _variation(ctx, node, size)
        size = step.generation["width"], step.generation["height"]
        steps.append(step)
    return steps


def _prompt(node: Node, given: dict[str, Any], *, quoting: bool) -> str:
    """The node's prompt: the caller's text (or the node's), its placeholders filled."""
    text: str = given.get(TEXT, node.prompt)
    variables = {**node.variables, **given.get(TEXT_VARIABLES, {})}
    placeholders = set(PLACEHOLDER.findall(text))
    unknown = sorted(set(given.get(TEXT_VARIABLES, {})) - placeholders)
    if unknown:
        raise InvalidRequest(
            f"nodeInputs: node {node.id!r}'s prompt has no placeholder "
            f"{', '.join('{' + name + '}' for name in unknown)}"
        )
    missing = sorted(placeholders - set(variables))
    if missing and not quoting:
        raise InvalidRequest(f"nodeInputs: node {node.id!r} needs textVariables for {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda match: str(variables.get(match[1], match[1])), text)


def _text_to_image(ctx: Context, principal: Principal, node: Node, prompt: str, public: bool) -> PlannedStep:
    options = node.options
    request = generations.GenerationRequest(
        prompt=prompt,
        model_id=node.model,
        negative_prompt=options.get("negative_prompt"),
        width=options.get("width"),
        height=options.get("height"),
        num_images=1,
        steps=options.get("steps"),
        guidance_scale=options.get("guidance"),
        seed=options.get("seed"),
        preset_style=options.get("style"),
        public=public,
    )
    planned = generations.plan_generation(ctx, principal, request)
    spec = planned.spec
    columns = _columns(
        planned.entry.id,
        planned.entry.key,
        spec.prompt,
        spec.width,
        spec.height,
        steps=spec.steps,
        guidance=spec.guidance_scale,
        seed=planned.seed,
        scheduler=spec.scheduler or "",
        negative=spec.negative_prompt,
        public=public,
    )
    return PlannedStep(
        node=node,
        cost=planned.cost,
        job_kind=text_to_image.NAME,
        job_payload=text_to_image.KIND.encode(spec),
        source_field=None,
        generation=columns,
        generation_id=new_id(),
        models=(planned.entry.key,),
        texts=(request.prompt, request.negative_prompt),
    )


def _variation(ctx: Context, node: Node, size: tuple[int, int]) -> PlannedStep:
    generation_id = new_id()
    if node.task == REMOVE_BACKGROUND:
        name = node.model or ctx.settings.segmenter
        entry = availability.require_named(ctx, name, SEGMENTER_FAMILY, "SFUMATO_SEGMENTER")
        payload = variation.VariationPayload(
            variation_id=generation_id, transform="NOBG", source_key="", segmenter=entry.key
        )
        width, height, cost = *size, ctx.pricing.variation("nobg")
    else:
        name = node.model or ctx.settings.upscaler
        entry = availability.require_named(ctx, name, UPSCALER_FAMILY, "SFUMATO_UPSCALER")
        multiplier = float(node.options.get("multiplier", 2.0))
        if not 1.0 <= multiplier <= 4.0:
            raise InvalidRequest(f"node {node.id!r}: multiplier must be between 1 and 4")
        width, height = upscale.target_size(*size, multiplier)
        if width * height > ctx.settings.upload_max_pixels:
            raise InvalidRequest(
                f"node {node.id!r} would make {width}×{height}, more pixels than this server "
                f"makes ({ctx.settings.upload_max_pixels}, SFUMATO_UPLOAD_MAX_PIXELS)"
            )
        payload = variation.VariationPayload(
            variation_id=generation_id,
            transform="UPSCALE",
            source_key="",
            upscaler=entry.key,
            multiplier=multiplier,
        )
        cost = ctx.pricing.variation("upscale")
    columns = _columns(entry.id, entry.key, "", width, height)
    return PlannedStep(
        node=node,
        cost=cost,
        job_kind=variation.NAME,
        job_payload=variation.KIND.encode(payload),
        source_field="source_key",
        generation=columns,
        generation_id=generation_id,
        models=(entry.key,),
    )


def _image_to_video(ctx: Context, node: Node, prompt: str, size: tuple[int, int]) -> PlannedStep:
    request = videos.VideoRequest(
        prompt=prompt, motion_model=node.model, duration=node.options.get("duration")
    )
    entry, motion_model = videos.video_model(ctx, request)
    if not entry.image_to_video:
        raise InvalidRequest(f"node {node.id!r}: model {entry.key} does not animate a picture")
    step = entry.video_size_step
    width, height = videos.snap(size[0], step), videos.snap(size[1], step)
    frames, _duration = videos.clip_frames(ctx, entry, request)
    seed = node.options.get("seed", secrets.randbelow(2**31))
    payload = videos.clip_payload(
        entry,
        prompt=prompt,
        negative_prompt=node.options.get("negative_prompt"),
        size=(width, height),
        frames=frames,
        seed=seed,
    )
    columns = _columns(
        entry.id,
        entry.key,
        prompt,
        width,
        height,
        steps=payload.steps,
        guidance=payload.guidance_scale,
        seed=seed,
        negative=payload.negative_prompt,
    )
    columns["motion_model"] = motion_model
    return PlannedStep(
        node=node,
        cost=videos.quote(ctx, motion_model, width, height),
        job_kind=video.NAME,
        job_payload=video.KIND.encode(payload),
        source_field="image_key",
        generation=columns,
        generation_id=new_id(),
        models=(entry.key,),
        texts=(prompt,),
    )


def _columns(
    model_id: str,
    model_key: str,
    prompt: str,
    width: int,
    height: int,
    *,
    steps: int = 0,
    guidance: float = 0.0,
    seed: int = 0,
    scheduler: str = "",
    negative: str | None = None,
    public: bool = False,
) -> dict[str, Any]:
    """A step's generation row (its id, account and price are added when it is admitted)."""
    return {
        "model_id": model_id,
        "model_key": model_key,
        "prompt": prompt,
        "negative_prompt": negative,
        "width": width,
        "height": height,
        "num_images": 1,
        "steps": steps,
        "guidance_scale": guidance,
        "seed": seed,
        "scheduler": scheduler,
        "public": public,
    }
