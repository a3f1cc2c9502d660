"""The service directory: any authenticated caller reads it; providers keep it current."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from sqlmodel import SQLModel

from app.auth.guards import AUTH_ERRORS, AnyCaller
from app.core.db import DbSession
from app.core.errors import Forbidden, NotFound, Unprocessable, error_responses
from app.core.pagination import Page, Paging
from app.models.base import utcnow
from app.models.directory import (
    ServiceCategory,
    ServiceCreate,
    ServiceRead,
    ServiceUpdate,
    Setting,
    Weekday,
)
from app.services import directory as service
from app.services.hsds import hsds_service
from app.sharing.deps import DirectoryWrite

router = APIRouter(prefix="/api/v1/services", tags=["directory"], responses=AUTH_ERRORS)
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
# PostgreSQL cannot compare text with NUL in it: refuse it as invalid input (422).
NO_NUL = r"^[^\x00]*$"


class HsdsPage(SQLModel):
    """HSDS `service` objects, one page at a time."""

    contents: list[dict[str, Any]]
    next_cursor: str | None = None


@router.get("", response_model=Page[ServiceRead])
def search_services(
    caller: AnyCaller,
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
def export_hsds(caller: AnyCaller, session: DbSession, paging: Paging) -> HsdsPage:
    """The active directory as Open Referral HSDS 3.0-shaped `service` objects."""
    items, cursor = service.search_services(session, service.ServiceSearch(), paging, utcnow())
    return HsdsPage(contents=[hsds_service(i) for i in items], next_cursor=cursor)


@router.get("/{service_id}", response_model=ServiceRead, responses=error_responses(NotFound))
def read_service(caller: AnyCaller, session: DbSession, service_id: uuid.UUID) -> ServiceRead:
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
