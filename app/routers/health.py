"""Liveness, readiness and metrics."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.core.db import READ_ONLY, get_engine
from app.core.errors import problem_response
from app.core.metrics import metrics
from app.services.delivery_metrics import delivery_metrics

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness", responses={503: {"description": "Database down"}})
async def readyz(request: Request) -> JSONResponse:
    """The database is reachable (503 problem+json, with `database`, when it is not)."""
    try:
        with get_engine().connect().execution_options(**{READ_ONLY: True}) as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return problem_response(
            503,
            "Service unavailable",
            "unavailable",
            request,
            "The database is not reachable.",
            extensions={"database": "unreachable"},
        )
    return JSONResponse({"status": "ok", "database": "ok"})


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
async def read_metrics() -> str:
    """Request counts by route and status, and webhook delivery figures (Prometheus text)."""
    return metrics.render() + delivery_metrics()
