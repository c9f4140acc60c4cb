"""``/prompt/improve`` and ``/prompt/random`` shapes (PromptImproveRequestBody et al.)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sfumato.api.schemas.common import WireModel
from sfumato.service.prompts import WrittenPrompt


class PromptImproveBody(WireModel):
    prompt: str = Field(min_length=1, max_length=4000)
    is_video: bool | None = Field(default=None, alias="isVideo")
    prompt_instructions: str | None = Field(default=None, alias="promptInstructions", max_length=1000)


def prompt_generation(written: WrittenPrompt) -> dict[str, Any]:
    return {
        "promptGeneration": {
            "prompt": written.text,
            "apiCreditCost": written.credit_cost,
            "cost": {"amount": str(written.credit_cost), "unit": "CREDITS"},
        }
    }
