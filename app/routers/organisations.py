"""The read-only organisations directory: partners find each other's ids here."""

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from app.auth.guards import AUTH_ERRORS, AnyCaller
from app.core.db import DbSession
from app.core.pagination import Page, Paging, paginate
from app.models.organisation import Organisation, OrganisationDirectoryEntry, OrgKind

router = APIRouter(prefix="/api/v1/organisations", tags=["organisations"], responses=AUTH_ERRORS)


@router.get("", response_model=Page[OrganisationDirectoryEntry])
def list_organisation_directory(
    caller: AnyCaller,
    session: DbSession,
    paging: Paging,
    kind: Annotated[OrgKind | None, Query(description="Only organisations of this kind")] = None,
    accepts_referrals: Annotated[
        bool | None,
        Query(description="Only those that do (true) or do not accept referrals"),
    ] = None,
) -> Page[OrganisationDirectoryEntry]:
    """Organisations by name, with whether each accepts referrals (any authenticated caller)."""
    stmt = select(Organisation)
    if kind is not None:
        stmt = stmt.where(Organisation.kind == kind)
    if accepts_referrals is not None:
        stmt = stmt.where(col(Organisation.active).is_(accepts_referrals))
    rows, cursor = paginate(session, stmt, [Organisation.name, Organisation.id], paging)
    return Page(
        items=[
            OrganisationDirectoryEntry(
                id=r.id, name=r.name, kind=r.kind, accepts_referrals=r.active
            )
            for r in rows
        ],
        next_cursor=cursor,
    )
