"""``/pricing-calculator``: what a job would cost, from the same table its charge uses."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.schemas.pricing import PricingCalculatorBody, quote_response
from sfumato.service.quotes import quote

router = APIRouter(tags=["pricing"])


@router.post("/pricing-calculator")
def pricing_calculator(
    body: PricingCalculatorBody, ctx: ContextDep, _principal: PrincipalDep
) -> dict[str, Any]:
    service, params = body.to_quote()
    return quote_response(quote(ctx, service, params))
