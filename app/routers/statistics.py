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
    """One count, or nothing when it is suppressed."""

    value: int | None = Field(description="The count; null when suppressed")
    suppressed: bool = Field(
        description=(
            "True when the count is below the threshold or could be derived from figures that are"
        )
    )


class Table(BaseModel):
    """A total and the parts that partition it, suppressed together."""

    total: Figure = Field(description="Everything counted")
    parts: dict[str, Figure] = Field(description="The parts of the total, by name")


class Median(BaseModel):
    """A median time, suppressed when it summarises fewer cases than the threshold."""

    median_days: float | None = Field(
        description=(
            "The median, in days (two decimals); null when suppressed or nothing was counted"
        )
    )
    suppressed: bool = Field(
        description="True when fewer cases than the threshold were counted (zero included)"
    )


class Statistics(BaseModel):
    """Counts for commissioners, no personal data (each table explained in docs/governance.md)."""

    from_: date = Field(alias="from", description="First day of the range")
    to: date = Field(description="Last day of the range")
    org_id: uuid.UUID | None = Field(
        description="The organisation the figures are for, if one was asked"
    )
    org_kind: OrgKind | None = Field(
        description="The kind of organisation the figures are for, if asked"
    )
    suppression_threshold: int = Field(description="Counts below this are suppressed")
    referrals: Table = Field(
        description=(
            "Referrals submitted in the range (to the organisations filtered), by outcome so far"
        )
    )
    declines_by_reason: Table = Field(
        description=(
            "Those referrals declined, by coded reason (ReasonCode; declines recorded "
            "before the codes existed count as other)"
        )
    )
    median_days_to_accept: Median = Field(
        description="Median days from submission to acceptance, of those referrals"
    )
    median_days_to_first_contact: Median = Field(
        description=(
            "Median days from submission to the recipient's first contact made milestone, of those "
            "referrals"
        )
    )
    readiness_at_release: dict[str, Table] = Field(
        description=(
            "Per release-checklist item: people released in the range (registered by the "
            "organisations filtered), met or not met by the end of their release day"
        )
    )
    engagement_after_release: dict[str, Table] = Field(
        description=(
            "day_7 and day_28: services people released in the range were accepted by (the "
            "organisations filtered), engaged or not by that day after release"
        )
    )
    appointments: Table = Field(
        description=(
            "Appointments that started in the range, by attendance recorded (the organisation seen)"
        )
    )
    did_not_attend_rate: float | None = Field(
        description=(
            "did_not_attend / (attended + did_not_attend); null when either count is suppressed"
        )
    )
    break_glass: Table = Field(
        description=(
            "Break-glass grants in the range, by review outcome (the organisation that broke the "
            "glass)"
        )
    )
    disclosures: Table = Field(
        description="Allowed disclosures in the range, by lawful basis (the receiving organisation)"
    )
    withdrawn_consents: Table = Field(
        description="Consents withdrawn in the range (the organisation that recorded them)"
    )


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
