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
    """One count, or `suppressed` when it is below the suppression threshold."""

    value: int | None = Field(description="Absent (null) when suppressed")
    suppressed: bool = Field(
        description="True when the count is withheld (value is null): too small to publish, "
        "or a part that would let a small one be worked out."
    )


class Table(BaseModel):
    """A total and its parts (e.g. referrals by status), each possibly suppressed."""

    total: Figure
    parts: dict[str, Figure] = Field(
        description="The total broken down, e.g. referrals by outcome."
    )


class Statistics(BaseModel):
    """Anonymous counts for a period: referrals, break-glass, disclosures, withdrawn consents.
    Small counts are suppressed.
    """

    from_: date = Field(alias="from", description="First day of the period (inclusive).")
    to: date = Field(description="Last day of the period (inclusive).")
    org_id: uuid.UUID | None = Field(description="The organisation counted; null for all.")
    org_kind: OrgKind | None = Field(description="The organisation kind counted; null for all.")
    suppression_threshold: int = Field(description="Counts below this are suppressed.")
    referrals: Table = Field(
        description="Referrals submitted in the period (to the organisations counted), by "
        "outcome so far."
    )
    break_glass: Table = Field(
        description="Break-glass grants in the period: justified, not justified, or "
        "awaiting review."
    )
    disclosures: Table = Field(
        description="Disclosures in the period, by basis: consent, a protocol without "
        "consent, or break-glass."
    )
    withdrawn_consents: Table = Field(description="Consents withdrawn in the period.")


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
