"""``/prompt/improve`` and ``/prompt/random``: prompt tools (a small LM, or templates)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.schemas.prompts import PromptImproveBody, prompt_generation
from sfumato.service import prompts

router = APIRouter(tags=["prompt"])


@router.post("/prompt/improve")
def prompt_improve(body: PromptImproveBody, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    written = prompts.improve(
        ctx, principal, body.prompt, body.prompt_instructions, video=bool(body.is_video)
    )
    return prompt_generation(written)


@router.post("/prompt/random")
def prompt_random(ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return prompt_generation(prompts.random_prompt(ctx, principal))
