"""Statistics for commissioners: counts without personal data (scope statistics:read)."""

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Security
from pydantic import BaseModel, Field

from app.auth.caller import Caller, get_caller
from app.auth.guards import AUTH_ERRORS
from app.auth.scopes import Scope as TokenScope
from app.core.db import DbSession
from app.core.errors import Unprocessable, error_responses
from app.core.settings import get_settings
from app.models.organisation import OrgKind
from app.services.statistics import Scope, statistics

router = APIRouter(prefix="/api/v1", tags=["governance"], responses=AUTH_ERRORS)

MAX_RANGE_DAYS = 3660


class Figure(BaseModel):
    value: int | None = Field(description="Absent (null) when suppressed")
    suppressed: bool


class Table(BaseModel):
    total: Figure
    parts: dict[str, Figure]


class Statistics(BaseModel):
    from_: date = Field(alias="from")
    to: date
    org_id: uuid.UUID | None
    org_kind: OrgKind | None
    suppression_threshold: int
    referrals: Table
    break_glass: Table
    disclosures: Table
    withdrawn_consents: Table


@router.get(
    "/statistics",
    response_model=Statistics,
    response_model_by_alias=True,
    responses=error_responses(Unprocessable),
)
def read_statistics(
    session: DbSession,
    caller: Annotated[Caller, Security(get_caller, scopes=[TokenScope.statistics_read.value])],
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    org_id: uuid.UUID | None = None,
    org_kind: OrgKind | None = None,
) -> Statistics:
    """Counts for a date range, optionally for one organisation or kind; small numbers
    suppressed."""
    if end < start or (end - start).days > MAX_RANGE_DAYS:
        raise Unprocessable("'to' must be on or after 'from', within ten years.")
    if org_id is not None and org_kind is not None:
        raise Unprocessable("Give org_id or org_kind, not both.")
    scope = Scope(start, end, org_id, str(org_kind) if org_kind else None)
    threshold = get_settings().statistics_suppression_threshold
    return Statistics.model_validate(statistics(session, scope, threshold))
