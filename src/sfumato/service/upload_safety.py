"""Uploaded pictures through the output safety classifier, when the operator asks for it.

With ``SFUMATO_SAFETY_CHECK_UPLOADS`` on, every uploaded picture a request uses — an init
image, a canvas and its mask's picture, a ``/media`` image, a realtime canvas — is
classified as outputs are (``engine.safety``, the same model and threshold) before anything
is charged or queued; one that is flagged is refused with ``400 content-policy`` naming the
category, and the log records the picture's sha256. The classifier runs in the API process,
like the prompt tools' model: loaded once per process, on first use.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import TYPE_CHECKING

from sfumato.observability.metrics import record_refusal
from sfumato.service.context import Context
from sfumato.service.policy import ContentRefused

if TYPE_CHECKING:
    from PIL.Image import Image

    from sfumato.engine import Engine

log = logging.getLogger(__name__)
_engines: dict[tuple[str, str], Engine] = {}
_engines_lock = threading.Lock()


def check_picture(ctx: Context, account_id: str, picture: Image, what: str) -> None:
    """Refuse (``400 content-policy``) an uploaded picture the classifier flags; nothing
    when the setting is off or no classifier is named."""
    settings = ctx.settings
    if not settings.safety_check_uploads or not settings.safety_model:
        return
    from sfumato.engine.safety import classify

    [verdict] = classify(_engine(ctx), settings.safety_model, [picture])
    if verdict.score <= settings.safety_threshold:
        return
    digest = hashlib.sha256(picture.tobytes()).hexdigest()
    log.warning(
        "content policy refused an uploaded picture (%s): category %s, account %s, pixels sha256 %s",
        what, verdict.category, account_id, digest,
    )  # fmt: skip
    record_refusal(verdict.category)
    raise ContentRefused(verdict.category, what, subject="picture")


def _engine(ctx: Context) -> Engine:
    from sfumato.engine import Engine

    device = "cpu" if ctx.settings.device == "auto" else ctx.settings.device
    key = (str(ctx.models_dir), device)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = Engine(ctx.catalog, ctx.models_dir, device=device, max_loaded=1)
        return engine
