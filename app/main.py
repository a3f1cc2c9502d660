"""The application factory: routers, middleware and error handlers."""

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.core.errors import document_problems, install_error_handlers
from app.core.methods import FixedPathMethods
from app.core.middleware import (
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
    UnhandledErrorMiddleware,
)
from app.core.settings import Settings, get_settings
from app.docs import install_docs
from app.openapi_extras import finish_document, operation_id
from app.routers import (
    admin,
    appointments,
    auth,
    break_glass,
    consent_notices,
    directory,
    documents,
    endings,
    engagement,
    events,
    fhir,
    governance,
    health,
    hsds,
    movements,
    notes,
    notices,
    organisations,
    participants,
    plan,
    protocols,
    records,
    referral_milestones,
    referrals,
    release,
    sharing,
    statistics,
    timeline,
    webhooks,
)
from app.sharing.checkpoints import checkpoint_lifespan

API_DESCRIPTION = """
Interagency data sharing for continuity of mental-health care for people leaving prison.

Every response about a participant is filtered by the caller's relationship with them,
redacted by data category according to information-sharing protocols and the person's
consent, and recorded in a hash-chained disclosure log. Errors are RFC 9457
`application/problem+json`.
"""


def _document_problem_responses(app: FastAPI, servers: list[str]) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish_document(document_problems(generate()), app, servers)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the ASGI application."""
    settings = settings or get_settings()
    logging.basicConfig(level=settings.log_level, format="%(message)s")
    # httpx logs full URLs at INFO; keep outgoing calls out of the logs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app = FastAPI(
        title="Throughcare API",
        version="1.0.0",
        description=API_DESCRIPTION,
        docs_url=None,  # served with local assets by app.docs
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        lifespan=checkpoint_lifespan,  # signed audit checkpoints (decision 0005)
        generate_unique_id_function=operation_id,
    )
    install_error_handlers(app)
    if settings.docs_enabled:
        install_docs(app, "/openapi.json")
    _document_problem_responses(app, settings.openapi_servers)
    for module in (
        health,
        auth,
        admin,
        organisations,
        participants,
        sharing,
        protocols,
        break_glass,
        notices,
        plan,
        appointments,
        records,
        timeline,
        directory,
        hsds,
        referral_milestones,  # before referrals (see the module)
        referrals,
        release,
        governance,
        statistics,
        webhooks,
        events,
        consent_notices,
        movements,
        fhir,
        notes,
        engagement,
        documents,
        endings,
    ):
        app.include_router(module.router)
    app.include_router(appointments.worklists)
    app.include_router(auth.well_known)
    app.add_middleware(FixedPathMethods, application=app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "Idempotency-Key",
                "X-Purpose",
                "X-Request-ID",
            ],
            expose_headers=["ETag", "X-Request-ID", "Location"],
        )
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        # Document uploads have their own (larger) limit, enforced as they stream in.
        upload_path=documents.UPLOAD_PATH,
        upload_max_bytes=settings.document_max_bytes,
    )
    app.add_middleware(RequestContextMiddleware)
    return app


app = create_app()
