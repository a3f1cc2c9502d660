"""When is a referral overdue? One rule, as a Python predicate and as a SQL clause.

Overdue means either
  - submitted and not accepted or declined within the response time for its urgency
    (settings `referral_response_hours_*`), or
  - submitted or accepted but not yet in progress on or after the participant's release
    date (the actual one when recorded, else the expected one).
"""

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import col

from app.core.settings import get_settings
from app.models.participant import Participant
from app.models.referral import Referral, ReferralStatus, Urgency

_NOT_STARTED = (ReferralStatus.submitted, ReferralStatus.accepted)


def response_hours(urgency: Urgency) -> int:
    """Hours the recipient has to accept or decline a referral of this urgency."""
    settings = get_settings()
    return {
        Urgency.routine: settings.referral_response_hours_routine,
        Urgency.soon: settings.referral_response_hours_soon,
        Urgency.urgent: settings.referral_response_hours_urgent,
    }[urgency]


def is_overdue(referral: Referral, release_date: date | None, now: datetime) -> bool:
    """True when the referral is overdue (see the module docstring)."""
    if (
        referral.status == ReferralStatus.submitted
        and referral.submitted_at is not None
        and referral.submitted_at + timedelta(hours=response_hours(referral.urgency)) < now
    ):
        return True
    return (
        referral.status in _NOT_STARTED and release_date is not None and release_date <= now.date()
    )


def release_date_column() -> Any:
    """The participant's release date as one SQL expression (actual, else expected)."""
    return func.coalesce(Participant.actual_release_date, Participant.expected_release_date)


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """The same rule in SQL, for a query that joins Participant to Referral."""
    late_reply = [
        and_(
            col(Referral.urgency) == urgency,
            col(Referral.submitted_at) < now - timedelta(hours=response_hours(urgency)),
        )
        for urgency in Urgency
    ]
    return or_(
        and_(col(Referral.status) == ReferralStatus.submitted, or_(*late_reply)),
        and_(
            col(Referral.status).in_(list(_NOT_STARTED)),
            release_date_column() <= now.date(),
        ),
    )
