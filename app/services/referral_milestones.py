"""Referrals stay alive after sending: milestones flow back to the referrer, and the referrer
can ask for an update. Both sides see a referral's milestones (category `referrals`)."""

import uuid

from sqlmodel import col, select

from app.core.errors import Conflict
from app.models.notice import Notice
from app.models.organisation import Organisation
from app.models.referral import Referral, ReferralStatus
from app.models.referral_milestones import (
    MilestoneCreate,
    ReferralMilestone,
    UpdateRequestCreate,
)
from app.services.outbox import emit
from app.services.referrals import find_referral
from app.sharing import policy
from app.sharing.categories import Category
from app.sharing.gate import SharingGate
from app.sharing.visibility import ReferralSight

RESOURCE = "referral"
LIVE = frozenset({ReferralStatus.accepted, ReferralStatus.in_progress})
AWAITING = frozenset({ReferralStatus.submitted, *LIVE})


def _name(gate: SharingGate, org_id: uuid.UUID, fallback: str) -> str:
    org = gate.session.get(Organisation, org_id)
    return org.name if org else fallback


def record_milestone(
    gate: SharingGate, referral_id: uuid.UUID, data: MilestoneCreate
) -> ReferralMilestone:
    """Record a milestone of an accepted referral (recipient); the referrer gets a notice."""
    referral, _ = find_referral(gate, referral_id, action="milestone", for_update=True)
    may = policy.may_record_milestone(gate.actor, to_org_id=referral.to_org_id)
    gate.authorize(
        may, "milestone", RESOURCE, referral.participant_id, resource_id=str(referral.id)
    )
    if referral.status not in LIVE:
        raise Conflict(f"A referral that is {referral.status} takes no milestones.")
    milestone = ReferralMilestone(
        referral_id=referral.id,
        participant_id=referral.participant_id,
        source_org_id=gate.caller.org_id,
        kind=data.kind,
        occurred_on=data.occurred_on,
        note=data.note,
        recorded_by=gate.caller.subject,
    )
    gate.session.add(milestone)
    name = _name(gate, referral.to_org_id, "the receiving organisation")
    gate.session.add(
        Notice(
            organisation_id=referral.from_org_id,
            kind="referral_milestone",
            participant_id=referral.participant_id,
            subject_id=str(referral.id),
            message=f"{name} recorded '{data.kind.replace('_', ' ')}' on your referral.",
        )
    )
    gate.session.flush()
    # For partner systems: whoever may see the referral now hears of it (the referrer's
    # system, typically); the event carries ids only, the milestone is read through the API.
    emit(
        gate,
        "referral.milestone_recorded",
        referral.participant_id,
        {"referral_id": referral.id, "milestone_id": milestone.id},
        source_org_id=referral.from_org_id,
        parties=[referral.to_org_id],
    )
    gate.wrote(
        referral.participant_id,
        [Category.referrals],
        action="milestone",
        resource=RESOURCE,
        resource_id=str(referral.id),
    )
    return milestone


def list_milestones(gate: SharingGate, referral_id: uuid.UUID) -> list[ReferralMilestone]:
    """A referral's milestones, oldest first (both parties; the participant too)."""
    referral, seen = find_referral(gate, referral_id)
    stmt = select(ReferralMilestone).where(ReferralMilestone.referral_id == referral.id)
    if seen.sight != ReferralSight.full:
        # A closed referral's recipient keeps no view of the person: its own records only.
        stmt = stmt.where(ReferralMilestone.source_org_id == gate.caller.org_id)
    return list(
        gate.session.exec(
            stmt.order_by(col(ReferralMilestone.recorded_at), col(ReferralMilestone.id))
        ).all()
    )


def request_update(
    gate: SharingGate, referral_id: uuid.UUID, data: UpdateRequestCreate
) -> tuple[Referral, Notice]:
    """The referrer asks the recipient for an update: a notice to the recipient."""
    referral, _ = find_referral(gate, referral_id, action="request_update")
    may = policy.may_request_referral_update(gate.actor, from_org_id=referral.from_org_id)
    gate.authorize(
        may, "request_update", RESOURCE, referral.participant_id, resource_id=str(referral.id)
    )
    if referral.status not in AWAITING:
        raise Conflict(f"A referral that is {referral.status} is not awaiting news.")
    name = _name(gate, referral.from_org_id, "The referring organisation")
    notice = Notice(
        organisation_id=referral.to_org_id,
        kind="referral_update_requested",
        participant_id=referral.participant_id,
        subject_id=str(referral.id),
        message=f"{name} asks for an update on their referral."
        + (" They note: " + data.note if data.note else ""),
    )
    gate.session.add(notice)
    gate.session.flush()
    gate.wrote(
        referral.participant_id,
        [Category.referrals],
        action="request_update",
        resource=RESOURCE,
        resource_id=str(referral.id),
    )
    return referral, notice
