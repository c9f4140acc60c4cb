"""The price of a whole file before it runs, from the server's own pricing calculator.

Each line is turned into the calculator's body for its kind (``POST /pricing-calculator``);
lines that would be quoted alike are asked once. Kinds the calculator has no service for
(upscale, nobg, unzoom, the universal upscaler, priced by a picture the line only names)
are counted apart as unpriced.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from sfumato.batch.http import Api
from sfumato.batch.requests import BatchRequest


@dataclass
class Estimate:
    credits: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)  # credits per kind
    lines: Counter[str] = field(default_factory=Counter)  # priced lines per kind
    unpriced: Counter[str] = field(default_factory=Counter)  # lines per kind the calculator cannot price


async def estimate(api: Api, requests: list[BatchRequest]) -> Estimate:
    quotes: dict[str, int] = {}
    result = Estimate()
    for request in requests:
        body = request.kind.price(request.body)
        if body is None:
            result.unpriced[request.kind.name] += 1
            continue
        key = json.dumps(body, sort_keys=True)
        if key not in quotes:
            answer = await api.post("/pricing-calculator", body)
            quotes[key] = int(answer["calculateProductionApiServiceCost"]["cost"])
        result.credits += quotes[key]
        result.by_kind[request.kind.name] += quotes[key]
        result.lines[request.kind.name] += 1
    return result
