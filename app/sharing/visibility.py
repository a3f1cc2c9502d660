"""Visibility in SQL: which participants exist for a caller. Lists and detail reads use it."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_
from sqlmodel import col, select

from app.auth.caller import Caller
from app.models.participant import CareTeamMember, Participant
from app.models.referral import OPEN_FOR_RECIPIENT, Referral


def active_membership(
    participant_col: Any, org_id: uuid.UUID, now: datetime
) -> ColumnElement[bool]:
    """EXISTS an active care-team membership of `org_id` for the participant column."""
    return exists().where(
        col(CareTeamMember.participant_id) == participant_col,
        col(CareTeamMember.organisation_id) == org_id,
        col(CareTeamMember.since) <= now,
        or_(col(CareTeamMember.until).is_(None), col(CareTeamMember.until) > now),
    )


def open_referral_to(participant_col: Any, org_id: uuid.UUID) -> ColumnElement[bool]:
    """EXISTS an open referral of the participant addressed to `org_id`."""
    return exists().where(
        col(Referral.participant_id) == participant_col,
        col(Referral.to_org_id) == org_id,
        col(Referral.status).in_(list(OPEN_FOR_RECIPIENT)),
    )


def visibility_clause(caller: Caller, now: datetime) -> ColumnElement[bool]:
    """The participants that exist for the caller (rules 1, 2 and 6)."""
    if caller.is_participant:
        if caller.participant_id is None:
            return false()
        return col(Participant.id) == caller.participant_id
    return or_(
        col(Participant.source_org_id) == caller.org_id,
        active_membership(Participant.id, caller.org_id, now),
        open_referral_to(Participant.id, caller.org_id),
    )


def visible_participants(caller: Caller, now: datetime) -> Any:
    """SELECT of the participants the caller may know exist (default deny)."""
    return select(Participant).where(visibility_clause(caller, now))


def visible_participant_ids(caller: Caller, now: datetime) -> Any:
    """SELECT of the ids of visible participants, for use in subqueries."""
    return select(Participant.id).where(and_(visibility_clause(caller, now)))
