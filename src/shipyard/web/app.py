"""The application factory: one settings object in, a FastAPI app out."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from shipyard import __version__
from shipyard.core.clock import Clock
from shipyard.core.config import Settings
from shipyard.monitoring import metrics as prom
from shipyard.web import problems
from shipyard.web.console import STATIC_DIR
from shipyard.web.context import AppContext
from shipyard.web.deps import get_ctx, public
from shipyard.web.middleware import EdgeMiddleware
from shipyard.web.responses import JSONBytes

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, *, clock: Clock | None = None, http: httpx.AsyncClient | None = None
) -> FastAPI:
    settings = settings or Settings()
    ctx = AppContext.build(settings, clock, http)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx.start()
        # Everything loaded so far (libraries, models, caches) lives as long as the process: move it
        # out of the collector's way so full collections stay short and do not stall calls.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await ctx.stop()

    app = FastAPI(
        title="Shipyard",
        version=__version__,
        lifespan=lifespan,
        description="The production layer for AI: governed model services.",
    )
    app.state.ctx = ctx
    app.add_middleware(
        EdgeMiddleware,
        max_body_bytes=settings.serving.max_body_bytes,
        max_upload_bytes=settings.serving.max_upload_bytes,
        hsts=settings.env == "production",
    )
    problems.install(app)

    from shipyard.audit.api import router as audit_api
    from shipyard.audit.pages import router as audit_pages
    from shipyard.auth.api import router as auth_api
    from shipyard.auth.pages import router as auth_pages
    from shipyard.registry.api import router as registry_api
    from shipyard.registry.pages import router as registry_pages
    from shipyard.serving.api import INVOKE_OPENAPI, invoke_route
    from shipyard.serving.api import router as serving_api

    app.router.routes.insert(0, invoke_route)  # the hot path is matched first
    for router in (serving_api, registry_api, auth_api, audit_api, auth_pages, registry_pages, audit_pages):
        app.include_router(router)
    from shipyard.batchjobs.api import router as jobs_api
    from shipyard.batchjobs.pages import router as jobs_pages

    app.include_router(jobs_api)
    app.include_router(jobs_pages)
    from shipyard.assistants.policy.pages import router as ask_pages
    from shipyard.documents.api import router as documents_api
    from shipyard.documents.pages import router as documents_pages
    from shipyard.serving.chat import router as chat_api

    for router in (documents_api, documents_pages, chat_api, ask_pages):
        app.include_router(router)
    from shipyard.monitoring.drift.api import router as drift_api
    from shipyard.monitoring.drift.pages import router as drift_pages

    app.include_router(drift_api)
    app.include_router(drift_pages)
    from shipyard.review.api import router as review_api
    from shipyard.review.pages import router as review_pages
    from shipyard.review.queue.api import router as review_queue_api
    from shipyard.review.queue.pages import router as review_queue_pages

    app.include_router(review_api)
    app.include_router(review_pages)
    app.include_router(review_queue_api)
    app.include_router(review_queue_pages)
    from shipyard.monitoring.rollups.api import router as rollups_api
    from shipyard.monitoring.rollups.pages import router as dashboard_pages
    from shipyard.serving.pages import router as predictions_pages

    for router in (rollups_api, dashboard_pages, predictions_pages):
        app.include_router(router)
    from shipyard.monitoring.alerts.api import router as alerts_api
    from shipyard.monitoring.alerts.pages import router as alerts_pages

    app.include_router(alerts_api)
    app.include_router(alerts_pages)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/healthz", dependencies=[Depends(public)], tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", dependencies=[Depends(public)], tags=["health"])
    def readyz(request: Request) -> Response:
        """Readiness: the recorder is running. The database being down degrades, but does not stop, a
        worker: calls are served from cache and spooled until it is back, so the answer stays 200."""
        c = get_ctx(request)
        checks: dict[str, Any] = {"recorder": "ok" if c.started else "stopped"}
        try:
            with c.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable: {type(exc).__name__}"
        if c.started:
            checks["spool_backlog"] = c.spool.backlog()
            checks["spool_backlog_bytes"] = c.spool.backlog_bytes()
            cap = c.settings.recorder.max_spool_bytes
            if cap and checks["spool_backlog_bytes"] >= cap:
                checks["recorder"] = "full"
        if c.started and c.shipper.last_error:
            checks["shipping"] = c.shipper.last_error  # records wait in the spool until it clears
        if c.recorder_trouble:
            checks["recorder_trouble"] = c.recorder_trouble
        ready = c.started  # a full spool is each service's call (its policy), not a reason to leave the pool
        healthy = checks["recorder"] == "ok" and checks["database"] == "ok" and "shipping" not in checks
        status = "ok" if healthy else "degraded"
        return JSONBytes({"status": status, **checks}, status_code=200 if ready else 503)

    @app.get("/metrics", dependencies=[Depends(public)], tags=["health"])
    def metrics() -> Response:
        """Prometheus metrics (no payloads or personal data); with several workers, summed over all."""
        return Response(prom.exposition(), media_type=prom.CONTENT_TYPE)

    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        schema = default_openapi()
        schema["paths"]["/v1/services/{slug}/invoke"] = INVOKE_OPENAPI
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"}
        }
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
