"""Request de-duplication: the same seeded request twice within a window is one generation.

The fingerprint is a hash of the account and every parameter of the request, seed
included, so only a request that would produce the very same pixels matches. Unseeded
requests never match (each asks for new randomness), and a FAILED generation does not
count, so retrying a failure runs again. A match is returned as is and not charged.
The check happens where the generation is recorded (``store/intake.py``), under the
account's lock, so two identical requests that arrive at once run once, on one API
node or several.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any


def fingerprint(account_id: str, request: Any) -> str | None:
    """The request's hash, or None for a request without a seed."""
    if getattr(request, "seed", None) is None:
        return None
    # Shallow: a nested dataclass (the edit) is written as its repr, which names every field.
    fields = {field.name: getattr(request, field.name) for field in dataclasses.fields(request)}
    text = json.dumps({"account": account_id, "request": fields}, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()
