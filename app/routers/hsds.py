"""The directory as a read-only Open Referral (HSDS 3.0 / Open Referral UK style) feed.

A feed consumer is given one base URL, `/api/v1/hsds`, and calls `GET {base}/` (what the
feed is), `GET {base}/services?page=&per_page=` (HSDS `Page`s) and
`GET {base}/services/{id}` (one fully nested service), as Open Referral tools do. Readable
like the rest of the directory: any authenticated caller, or anyone with
THROUGHCARE_PUBLIC_DIRECTORY set.
"""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.auth.guards import AUTH_ERRORS, DirectoryReader
from app.core.db import DbSession
from app.core.errors import NotFound, error_responses
from app.models.base import utcnow
from app.models.hsds import HsdsMeta, HsdsPage
from app.routers.directory import NO_NUL, PageNumber, PerPage, per_page_or_default
from app.services import directory as service
from app.services.hsds import HSDS_VERSION, hsds_page, hsds_service

router = APIRouter(prefix="/api/v1/hsds", tags=["directory"], responses=AUTH_ERRORS)
PROFILE = "https://docs.openreferral.org/en/latest/hsds/overview.html"


@router.get("", response_model=HsdsMeta, response_model_exclude_none=True)
def read_hsds_meta(caller: DirectoryReader, request: Request) -> HsdsMeta:
    """What this Open Referral feed is: its HSDS version, profile and OpenAPI document."""
    served = any(getattr(r, "name", None) == "openapi" for r in request.app.routes)
    return HsdsMeta(
        version=HSDS_VERSION,
        profile=PROFILE,
        openapi_url=str(request.url_for("openapi")) if served else None,
    )


@router.get("/services", response_model=HsdsPage)
def list_hsds_services(
    caller: DirectoryReader,
    session: DbSession,
    page: PageNumber = 1,
    per_page: PerPage = None,
    search: Annotated[
        str | None,
        Query(max_length=100, pattern=NO_NUL, description="Text in name or description."),
    ] = None,
    organization_id: Annotated[
        uuid.UUID | None, Query(description="Only services this organisation provides.")
    ] = None,
    full: Annotated[
        bool,
        Query(description="Fully nested services (phones, schedules, locations, attributes)."),
    ] = False,
) -> HsdsPage:
    """Active services as an HSDS page: one-to-one fields, or fully nested with `full`."""
    search_by = service.ServiceSearch(text=search, provider_org_id=organization_id)
    return HsdsPage.model_validate(
        hsds_page(
            session,
            search_by,
            page=page,
            per_page=per_page_or_default(per_page),
            full=full,
            now=utcnow(),
        )
    )


@router.get(
    "/services/{service_id}",
    response_model=dict[str, Any],
    responses=error_responses(NotFound),
)
def read_hsds_service(
    caller: DirectoryReader, session: DbSession, service_id: uuid.UUID
) -> dict[str, Any]:
    """One service as a fully nested HSDS 3.0 `service` object."""
    row = service.get_service(session, service_id)
    return hsds_service(service.service_views(session, [row], utcnow())[0])
