"""The FastAPI application factory."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from sfumato import __version__
from sfumato.api import canvas_submit, errors, explorer, generation_submit, openapi_doc
from sfumato.api.auth_gate import AuthGateMiddleware
from sfumato.api.body_limit import BodyLimitMiddleware
from sfumato.api.idempotency import IdempotencyMiddleware
from sfumato.api.lean_path import LeanPathMiddleware
from sfumato.api.openai_compat import routes as openai_routes
from sfumato.api.openai_compat.errors import PREFIX as OPENAI_PREFIX
from sfumato.api.request_log import RequestLogMiddleware
from sfumato.api.routes import (
    api_keys,
    blobs,
    blueprints,
    datasets,
    generations,
    health,
    init_images,
    media,
    metrics,
    models,
    models_3d,
    motion,
    pricing,
    prompts,
    realtime,
    studio,
    training,
    uploads,
    users,
    variations,
    webhooks,
)
from sfumato.blobs.local import UPLOAD_ROUTE
from sfumato.config import Settings
from sfumato.runtime import build_context, build_webhook_sender, build_worker
from sfumato.service.context import Context

API_PREFIX = "/api/rest/v1"
log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, *, with_worker: bool = True, context: Context | None = None
) -> FastAPI:
    settings = settings or Settings()
    ctx = context or build_context(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = build_worker(ctx) if with_worker else None
        thread = None
        if worker is not None:
            ctx.local_models = worker.runnable_models
            ctx.hand_offs = worker.hand_offs
            thread = threading.Thread(target=worker.run_forever, name="sfumato-worker", daemon=True)
            thread.start()
        sender = build_webhook_sender(ctx)
        if sender is not None:
            sender.start()
        # What exists now (the app, the catalog, the engine, imported modules) lives as long
        # as the process: moving it out of the collector's generations keeps full
        # collections short, and their pauses off the requests' latency.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if sender is not None:
                sender.close()
            if worker is not None and thread is not None:
                ctx.hand_offs = None
                worker.stop()
                thread.join(timeout=30)
            ctx.close()

    app = FastAPI(
        title="sfumato",
        version=__version__,
        description="Self-hosted generative-media API, wire-compatible with the Leonardo.Ai Production API.",
        lifespan=lifespan,
        docs_url=None,  # served from the package by explorer.install, no CDN
        redoc_url=None,
    )
    app.state.context = ctx
    errors.install(app)
    openapi_doc.install(app)
    explorer.install(app)
    # Outermost first: log → key check → body limit → idempotency (which reads the body) →
    # the lean path of POST /generations and the canvas.
    lean_routes = {**generation_submit.LEAN_ROUTES, **canvas_submit.LEAN_ROUTES}
    app.add_middleware(LeanPathMiddleware, prefix=API_PREFIX, routes=lean_routes)
    app.add_middleware(
        IdempotencyMiddleware, prefix=API_PREFIX, unstored=frozenset({API_PREFIX + api_keys.ROUTE})
    )
    app.add_middleware(IdempotencyMiddleware, prefix=OPENAI_PREFIX)
    app.add_middleware(
        BodyLimitMiddleware, default=settings.max_json_body_bytes, routes=_body_limits(settings)
    )
    app.add_middleware(AuthGateMiddleware, prefix=API_PREFIX)
    app.add_middleware(AuthGateMiddleware, prefix=OPENAI_PREFIX)
    app.add_middleware(RequestLogMiddleware)  # outermost: times and logs everything, replays included
    for router in (
        generations.router,
        models.router,
        users.router,
        api_keys.router,
        pricing.router,
        webhooks.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(prompts.router, prefix=API_PREFIX)
    app.include_router(init_images.router, prefix=API_PREFIX)
    app.include_router(media.router, prefix=API_PREFIX)
    app.include_router(realtime.router, prefix=API_PREFIX)
    app.include_router(variations.router, prefix=API_PREFIX)
    app.include_router(motion.router, prefix=API_PREFIX)
    app.include_router(datasets.router, prefix=API_PREFIX)
    app.include_router(training.router, prefix=API_PREFIX)
    app.include_router(models_3d.router, prefix=API_PREFIX)
    app.include_router(blueprints.router, prefix=API_PREFIX)
    app.include_router(openai_routes.router, prefix=OPENAI_PREFIX)
    app.include_router(blobs.router)
    app.include_router(uploads.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(studio.router)
    app.mount(studio.ASSETS, studio.assets(), name="studio-assets")
    return app


def _body_limits(settings: Settings) -> dict[str, int | None]:
    """Routes whose bodies may be larger than the JSON limit, or that bound their own."""
    limits: dict[str, int | None] = {UPLOAD_ROUTE: None}  # the upload form checks its own size
    limits.update({API_PREFIX + path: limit for path, limit in realtime.body_limits(settings).items()})
    openai_limits = openai_routes.body_limits(settings)
    limits.update({OPENAI_PREFIX + path: limit for path, limit in openai_limits.items()})
    return limits


def api_only_app() -> FastAPI:
    """The API without a worker, with settings from the environment: what each process of
    ``sfumato serve --processes N`` runs (uvicorn imports it by name in every process)."""
    from sfumato.observability.logs import configure_from

    settings = Settings()
    configure_from(settings)
    return create_app(settings, with_worker=False)
