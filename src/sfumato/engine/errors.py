"""The engine's one error type.

The worker records ``str(error)`` as a generation's failure reason and the service turns
it into a 400 at submission, so every message is written for the person who reads it:
what went wrong and, where there is one, what to do about it.
"""

from __future__ import annotations


class EngineError(Exception):
    """A request the engine cannot run: unknown model, missing weights, bad parameters."""
