"""Break-glass: emergency, time-limited access to named categories, always reviewed."""

import uuid
from datetime import timedelta

from sqlalchemy import or_
from sqlmodel import col, select

from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.pagination import PageParams, paginate
from app.core.settings import get_settings
from app.models.break_glass import BreakGlassCreate, BreakGlassGrant, BreakGlassReviewCreate
from app.models.notice import Notice
from app.models.participant import CareRole, CareTeamMember, Participant
from app.sharing import policy
from app.sharing.gate import SharingGate
from app.sharing.visibility import lead_org_ids, membership_in_force


def break_glass(
    gate: SharingGate, participant: Participant, data: BreakGlassCreate
) -> BreakGlassGrant:
    """Grant the caller the named categories for a short time, alert the lead organisation."""
    caller = gate.caller
    gate.authorize(policy.may_break_glass(gate.actor), "create", "break_glass", participant.id)
    minimum = get_settings().break_glass_min_justification
    if len(data.justification.strip()) < minimum:
        raise Unprocessable(f"The justification must be at least {minimum} characters.")
    grant = BreakGlassGrant(
        participant_id=participant.id,
        actor=caller.subject,
        actor_org_id=caller.org_id,
        reason_code=data.reason_code,
        justification=data.justification.strip(),
        categories=sorted({str(c) for c in data.categories}),
        granted_at=gate.now,
        expires_at=gate.now + timedelta(minutes=get_settings().break_glass_minutes),
    )
    gate.session.add(grant)
    gate.session.flush()
    for org_id in lead_org_ids(gate.session, participant.id, gate.now):
        gate.session.add(
            Notice(
                organisation_id=org_id,
                kind="break_glass",
                participant_id=participant.id,
                subject_id=str(grant.id),
                message=(
                    f"Break-glass access ({data.reason_code}) to "
                    f"{', '.join(grant.categories)} needs review."
                ),
                created_at=gate.now,
            )
        )
    gate.session.flush()
    gate.accessed(
        participant.id, action="break_glass", resource="break_glass", resource_id=str(grant.id)
    )
    return grant


def _reviewable(gate: SharingGate) -> object:
    # Only a *current* lead: an organisation whose lead membership ended has no
    # relationship with the person any more and must not read the justification.
    lead_participants = select(CareTeamMember.participant_id).where(
        CareTeamMember.organisation_id == gate.caller.org_id,
        CareTeamMember.role == CareRole.lead,
        membership_in_force(gate.now),
    )
    return or_(
        col(BreakGlassGrant.actor_org_id) == gate.caller.org_id,
        col(BreakGlassGrant.participant_id).in_(lead_participants),
    )


def review_queue(
    gate: SharingGate, paging: PageParams, reviewed: bool | None
) -> tuple[list[BreakGlassGrant], str | None]:
    """Grants by the caller's staff, or on participants the caller's organisation leads."""
    gate.authorize(policy.may_review_break_glass(gate.actor), "list", "break_glass")
    stmt = select(BreakGlassGrant).where(_reviewable(gate))  # type: ignore[arg-type]
    if reviewed is True:
        stmt = stmt.where(col(BreakGlassGrant.reviewed_at).is_not(None))
    elif reviewed is False:
        stmt = stmt.where(col(BreakGlassGrant.reviewed_at).is_(None))
    rows, cursor = paginate(
        gate.session, stmt, [BreakGlassGrant.granted_at, BreakGlassGrant.id], paging
    )
    for grant in rows:  # the justification is about the person: on their log
        gate.accessed(
            grant.participant_id, action="list", resource="break_glass", resource_id=str(grant.id)
        )
    return rows, cursor


def review_grant(
    gate: SharingGate, grant_id: uuid.UUID, data: BreakGlassReviewCreate
) -> BreakGlassGrant:
    """Record whether a break-glass access was justified."""
    gate.authorize(policy.may_review_break_glass(gate.actor), "review", "break_glass")
    grant = gate.session.exec(
        select(BreakGlassGrant).where(
            BreakGlassGrant.id == grant_id,
            _reviewable(gate),  # type: ignore[arg-type]
        )
    ).first()
    if grant is None:
        # A grant outside the caller's queue does not exist for them; an attempt on a
        # real one is still a refused access to that person's record.
        hidden = gate.session.get(BreakGlassGrant, grant_id)
        if hidden is not None:
            gate.deny(
                hidden.participant_id,
                "review",
                "break_glass",
                "not_reviewable",
                resource_id=str(hidden.id),
            )
        raise NotFound("No such break-glass grant.")
    gate.authorize(
        policy.may_review_break_glass(gate.actor, grant_actor=grant.actor),
        "review",
        "break_glass",
        grant.participant_id,
        resource_id=str(grant.id),
    )
    if grant.reviewed_at is not None:
        raise Conflict("This grant has already been reviewed.")
    grant.reviewed_by = gate.caller.subject
    grant.reviewed_at = gate.now
    grant.review_outcome = data.outcome
    grant.review_note = data.note
    gate.session.add(grant)
    gate.session.flush()
    gate.accessed(
        grant.participant_id,
        action="review_break_glass",
        resource="break_glass",
        resource_id=str(grant.id),
    )
    return grant
