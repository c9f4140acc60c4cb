"""Prompt tools: improve a prompt, write a random one — and ``enhancePrompt`` on generations.

With ``SFUMATO_PROMPT_MODEL`` set (a local transformers causal LM directory, a hub repo
id, or ``tiny``), a small instruct language model writes the text. Without one — or
when the model's reply is unusable — a documented deterministic fallback does, built
from templates with variants (the ``dynamicprompts`` library):

* improve: the prompt, then the instruction (if any), then a style, a lighting and a
  detail phrase (motion phrases for video) picked by a seed derived from the input,
  so the same input always gives the same improvement;
* random: a subject, a setting, a style and a lighting picked from lists, seeded
  by the caller (fresh randomness for each request).

The answer is never empty and never the input echoed back.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dynamicprompts.generators import RandomPromptGenerator

from sfumato.errors import InvalidRequest, SfumatoError
from sfumato.service import admission, policy
from sfumato.service.context import Context
from sfumato.service.keys import Principal
from sfumato.store import credits
from sfumato.store.models import new_id

if TYPE_CHECKING:
    from sfumato.engine.prompt_lm import PromptLM

log = logging.getLogger(__name__)

MAX_PROMPT_CHARS = 1500

STYLES = ["cinematic", "editorial photography", "digital painting", "studio photograph", "concept art",
          "35mm film photograph", "watercolor illustration", "octane render"]  # fmt: skip
LIGHTING = ["soft natural light", "golden hour light", "dramatic rim lighting", "moody low-key lighting",
            "diffused overcast light", "neon glow"]  # fmt: skip
DETAIL = ["highly detailed", "sharp focus", "intricate textures", "rich color palette",
          "balanced composition", "shallow depth of field"]  # fmt: skip
MOTION = ["slow dolly-in camera move", "smooth tracking shot", "gentle parallax", "subtle wind in the scene",
          "slow-motion detail"]  # fmt: skip
SUBJECTS = ["a lighthouse on a basalt cliff", "an old fox in a snowy forest", "a floating market at dawn",
            "a clockwork hummingbird", "a desert caravan under two moons", "a tea house in the rain",
            "a retro robot tending a garden", "a whale swimming through clouds",
            "a glass greenhouse at night", "a lone astronaut in a field of sunflowers"]  # fmt: skip
SETTINGS = [
    "in winter",
    "at dusk",
    "after a storm",
    "in a misty valley",
    "on a quiet street",
    "under the stars",
]

IMPROVE_SYSTEM = (
    "You rewrite prompts for an image generation model. Reply with one improved prompt only: keep the "
    "subject, add concrete visual detail (style, lighting, composition), at most 60 words."
)
RANDOM_SYSTEM = "You write one vivid, concrete prompt for an image generation model, at most 40 words."


@dataclass(frozen=True)
class WrittenPrompt:
    text: str
    source: str  # "model" or "template"
    credit_cost: int = 0


def _variants(options: list[str]) -> str:
    return "{" + "|".join(options) + "}"


def _pick(template: str, seed: int) -> str:
    return str(RandomPromptGenerator(seed=seed).generate(template, num_images=1)[0])


def template_improve(prompt: str, instruction: str | None = None, *, video: bool = False) -> str:
    """The deterministic fallback for improve (documented in the module docstring)."""
    key = f"{prompt}\n{instruction or ''}\n{video}".encode()
    seed = int.from_bytes(hashlib.sha256(key).digest()[:4], "big")
    phrases = [_variants(MOTION)] if video else []
    phrases += [_variants(STYLES), _variants(LIGHTING), _variants(DETAIL)]
    extra = _pick(", ".join(phrases), seed)
    base = prompt.strip().rstrip(" ,.")
    clause = f", {instruction.strip().rstrip(' ,.')}" if instruction and instruction.strip() else ""
    return f"{base}{clause}, {extra}"[:MAX_PROMPT_CHARS]


def template_random(seed: int, *, video: bool = False) -> str:
    parts = [_variants(SUBJECTS), _variants(SETTINGS), _variants(STYLES), _variants(LIGHTING)]
    if video:
        parts.append(_variants(MOTION))
    return _pick(", ".join(parts), seed)


def _clean(text: str) -> str:
    """A model's reply on one line, without control characters, quotes or a label."""
    printable = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in text)
    line = " ".join(printable.replace("\ufffd", "").split())
    for label in ("improved prompt:", "prompt:"):
        if line.lower().startswith(label):
            line = line[len(label) :].strip()
    return line.strip(" \"'`")[:MAX_PROMPT_CHARS]


_models: dict[tuple[str, str], PromptLM] = {}
_models_lock = threading.Lock()


def _model(ctx: Context) -> PromptLM | None:
    source = ctx.settings.prompt_model
    if not source:
        return None
    from sfumato.engine.prompt_lm import PromptLM

    device = "cpu" if ctx.settings.device == "auto" else ctx.settings.device
    with _models_lock:
        key = (source, device)
        if key not in _models:
            _models[key] = PromptLM(source, ctx.models_dir, device=device)
        return _models[key]


def _with_model(ctx: Context, system: str, user: str, *, seed: int, avoid: str | None = None) -> str | None:
    """The model's cleaned reply, or None when there is no model or its reply is unusable."""
    try:
        model = _model(ctx)
        if model is None:
            return None
        text = _clean(model.write(system, user, seed=seed))
    except Exception:
        log.exception("prompt model failed; using the template fallback")
        return None
    if len(text) < 3 or (avoid is not None and text.casefold() == avoid.strip().casefold()):
        return None
    return text


def improve_text(
    ctx: Context, prompt: str, instruction: str | None = None, *, video: bool = False
) -> WrittenPrompt:
    """An improved prompt, by the model when there is one, else by the template fallback."""
    user = f"Prompt: {prompt}"
    if instruction:
        user += f"\nInstruction: {instruction}"
    if video:
        user += "\nThe prompt is for a short video: describe motion and camera."
    seed = int.from_bytes(hashlib.sha256(user.encode()).digest()[:4], "big")
    text = _with_model(ctx, IMPROVE_SYSTEM, user, seed=seed, avoid=prompt)
    if text is not None:
        return WrittenPrompt(text, "model")
    return WrittenPrompt(template_improve(prompt, instruction, video=video), "template")


def improve(
    ctx: Context, principal: Principal, prompt: str, instruction: str | None = None, *, video: bool = False
) -> WrittenPrompt:
    """``POST /prompt/improve``: charged from the price table before the text is written."""
    if not prompt.strip():
        raise InvalidRequest("prompt must not be empty")
    subject_id = new_id()
    cost = _charge(ctx, principal, ctx.pricing.prompt_improve(), "prompt improvement", subject_id,
                   texts=(prompt, instruction))  # fmt: skip
    written = improve_text(ctx, prompt, instruction, video=video)
    _check_written(ctx, principal, written.text, subject_id, "prompt improvement")
    return WrittenPrompt(written.text, written.source, cost)


def random_prompt(ctx: Context, principal: Principal, *, video: bool = False) -> WrittenPrompt:
    """``POST /prompt/random``: charged from the price table before the text is written."""
    subject_id = new_id()
    cost = _charge(ctx, principal, ctx.pricing.prompt_random(), "random prompt", subject_id)
    seed = secrets.randbelow(2**31)
    text = _with_model(ctx, RANDOM_SYSTEM, "Write a new prompt.", seed=seed)
    written = (
        WrittenPrompt(text, "model")
        if text is not None
        else WrittenPrompt(template_random(seed, video=video), "template")
    )
    _check_written(ctx, principal, written.text, subject_id, "random prompt")
    return WrittenPrompt(written.text, written.source, cost)


def _charge(
    ctx: Context,
    principal: Principal,
    cost: int,
    what: str,
    subject_id: str,
    texts: tuple[str | None, ...] = (),
) -> int:
    """Admit the charge (balance, daily budget, the content policy on ``texts``) before the
    text is written; nothing is queued."""
    submitted = admission.submission(
        ctx,
        principal,
        cost=cost,
        subject_kind=credits.SubjectKind.PROMPT,
        subject_id=subject_id,
        keyed=False,
        texts=texts,
    )
    return admission.admit(ctx, submitted, what).cost


def _check_written(ctx: Context, principal: Principal, text: str, subject_id: str, what: str) -> None:
    """The written text passes the same content policy as a request's; one that does not is
    not given out, and its charge is refunded (so the refusal costs nothing, as any other)."""
    try:
        policy.check(ctx, principal.account_id, [text], what)
    except SfumatoError:  # refused, or the rules cannot be read: nothing given, nothing kept
        with ctx.db.transaction() as session:
            credits.refund(
                session, account_id=principal.account_id, subject_id=subject_id, note="content policy"
            )
        raise
