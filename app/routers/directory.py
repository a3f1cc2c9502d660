"""The service directory: any authenticated caller reads it (anyone, with
THROUGHCARE_PUBLIC_DIRECTORY set); providers keep it current."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from app.auth.guards import AUTH_ERRORS, AnyCaller, DirectoryReader
from app.core.db import DbSession
from app.core.errors import Forbidden, NotFound, Unprocessable, error_responses
from app.core.pagination import Page, Paging
from app.core.settings import get_settings
from app.models.base import utcnow
from app.models.directory import (
    ServiceCategory,
    ServiceCreate,
    ServiceRead,
    ServiceUpdate,
    Setting,
    Weekday,
)
from app.models.hsds import HsdsPage
from app.services import directory as service
from app.services.hsds import hsds_page
from app.sharing.deps import DirectoryWrite

router = APIRouter(prefix="/api/v1/services", tags=["directory"], responses=AUTH_ERRORS)
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
# PostgreSQL cannot compare text with NUL in it: refuse it as invalid input (422).
NO_NUL = r"^[^\x00]*$"
# Page numbers stay small enough that page * per_page is a valid SQL OFFSET everywhere.
MAX_PAGE = 1_000_000
PageNumber = Annotated[
    int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1 (HSDS paging).")
]
PerPage = Annotated[
    int | None,
    Query(ge=1, description="Services per page (HSDS paging; capped like `limit`)."),
]


def per_page_or_default(per_page: int | None) -> int:
    """The page size asked for, capped by THROUGHCARE_MAX_PAGE_SIZE."""
    settings = get_settings()
    return min(per_page or settings.default_page_size, settings.max_page_size)


@router.get("", response_model=Page[ServiceRead])
def search_services(
    caller: DirectoryReader,
    session: DbSession,
    paging: Paging,
    setting: Setting | None = None,
    category: ServiceCategory | None = None,
    q: Annotated[
        str | None,
        Query(max_length=100, pattern=NO_NUL, description="Text in name/description"),
    ] = None,
    open_day: Annotated[Weekday | None, Query(description="0 = Monday ... 6 = Sunday")] = None,
    open_at: Annotated[str | None, Query(pattern=HHMM, description="HH:MM")] = None,
    accepting_referrals: bool | None = None,
    provider_org_id: uuid.UUID | None = None,
    stale: bool | None = None,
) -> Page[ServiceRead]:
    """Search the directory by setting, category, text, opening time and referral intake."""
    search = service.ServiceSearch(
        setting=setting,
        category=category,
        text=q,
        open_day=open_day,
        open_at=open_at,
        accepting_referrals=accepting_referrals,
        provider_org_id=provider_org_id,
        stale=stale,
    )
    items, cursor = service.search_services(session, search, paging, utcnow())
    return Page(items=items, next_cursor=cursor)


@router.post(
    "",
    response_model=ServiceRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Forbidden, Unprocessable),
)
def create_service(gate: DirectoryWrite, data: ServiceCreate) -> ServiceRead:
    """Add a directory entry (the provider's org admin, or a system admin)."""
    return service.create_service(gate, data)


@router.get("/stale", response_model=Page[ServiceRead])
def stale_services(caller: AnyCaller, session: DbSession, paging: Paging) -> Page[ServiceRead]:
    """The caller's organisation's entries not verified within the configured period."""
    search = service.ServiceSearch(provider_org_id=caller.org_id, stale=True)
    items, cursor = service.search_services(session, search, paging, utcnow())
    return Page(items=items, next_cursor=cursor)


@router.get("/export/hsds", response_model=HsdsPage)
def export_hsds(
    caller: DirectoryReader, session: DbSession, page: PageNumber = 1, per_page: PerPage = None
) -> HsdsPage:
    """The active directory as fully nested Open Referral HSDS 3.0 services, page by page."""
    return HsdsPage.model_validate(
        hsds_page(
            session,
            service.ServiceSearch(),
            page=page,
            per_page=per_page_or_default(per_page),
            full=True,
            now=utcnow(),
        )
    )


@router.get("/{service_id}", response_model=ServiceRead, responses=error_responses(NotFound))
def read_service(caller: DirectoryReader, session: DbSession, service_id: uuid.UUID) -> ServiceRead:
    """One directory entry."""
    row = service.get_service(session, service_id)
    return service.service_views(session, [row], utcnow())[0]


@router.patch(
    "/{service_id}",
    response_model=ServiceRead,
    responses=error_responses(NotFound, Forbidden, Unprocessable),
)
def update_service(gate: DirectoryWrite, service_id: uuid.UUID, data: ServiceUpdate) -> ServiceRead:
    """Change a directory entry; `"verified": true` marks it checked now."""
    row = service.get_service(gate.session, service_id)
    return service.update_service(gate, row, data)
