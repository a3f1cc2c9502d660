"""When is a referral overdue? One rule, as a Python predicate and as a SQL clause.

Overdue means either
  - submitted and not accepted or declined within the response time for its urgency
    (settings `referral_response_hours_*`): referral data, always evaluated; or
  - submitted or accepted but not yet in progress on or after the participant's release
    date (the actual one when recorded, else the expected one). The release date is
    custody information: callers pass the release date *the caller may see* (None when
    the sharing decision withholds custody), so this part is never computed from a
    withheld date (app/services/referrals.py, `visible_release_date`).

The SQL clauses are pre-filters only (a superset of the rows the caller will see as
overdue, or as not overdue); the inbox applies `is_overdue` per row after the gate's
custody decision (app/services/referral_boxes.py).
"""

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import col

from app.core.settings import get_settings
from app.models.participant import Participant
from app.models.referral import Referral, ReferralStatus, Urgency

NOT_STARTED = (ReferralStatus.submitted, ReferralStatus.accepted)


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
        referral.status in NOT_STARTED and release_date is not None and release_date <= now.date()
    )


def release_date_column() -> Any:
    """The participant's release date as one SQL expression (actual, else expected)."""
    return func.coalesce(Participant.actual_release_date, Participant.expected_release_date)


def late_reply_clause(now: datetime) -> ColumnElement[bool]:
    """The time-since-submission part of the rule in SQL (referral data only)."""
    late_reply = [
        and_(
            col(Referral.urgency) == urgency,
            col(Referral.submitted_at) < now - timedelta(hours=response_hours(urgency)),
        )
        for urgency in Urgency
    ]
    return and_(col(Referral.status) == ReferralStatus.submitted, or_(*late_reply))


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """The whole rule in SQL, for a query that joins Participant to Referral.

    It reads the release date whatever the caller may see: use it only to narrow a query
    whose rows are then decided per row with `is_overdue` and the visible release date.
    """
    return or_(
        late_reply_clause(now),
        and_(
            col(Referral.status).in_(list(NOT_STARTED)),
            release_date_column() <= now.date(),
        ),
    )
