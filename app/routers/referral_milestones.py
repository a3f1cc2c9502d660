"""Referral milestones (recipient to referrer) and update requests (referrer to recipient).

Registered before app/routers/referrals.py: its `POST /referrals/{referral_id}/{action}`
would otherwise take these paths for unknown actions.
"""

import uuid

from fastapi import APIRouter, status

from app.auth.guards import AUTH_ERRORS
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable, error_responses
from app.models.referral_milestones import (
    MilestoneCreate,
    MilestoneRead,
    UpdateRequestCreate,
    UpdateRequestRead,
)
from app.services import referral_milestones as service
from app.sharing.deps import ReferralsRead, ReferralsWrite

router = APIRouter(
    prefix="/api/v1/referrals/{referral_id}",
    tags=["referrals"],
    responses={**AUTH_ERRORS, **error_responses(NotFound)},
)


@router.post(
    "/milestones",
    response_model=MilestoneRead,
    status_code=status.HTTP_201_CREATED,
    operation_id="recordReferralMilestone",
    responses=error_responses(Forbidden, Conflict, Unprocessable),
)
def record_referral_milestone(
    gate: ReferralsWrite, referral_id: uuid.UUID, data: MilestoneCreate
) -> MilestoneRead:
    """Record first contact, a booked or attended appointment, a DNA or disengagement."""
    return MilestoneRead.model_validate(service.record_milestone(gate, referral_id, data))


@router.get(
    "/milestones", response_model=list[MilestoneRead], operation_id="listReferralMilestones"
)
def list_referral_milestones(gate: ReferralsRead, referral_id: uuid.UUID) -> list[MilestoneRead]:
    """A referral's milestones, oldest first."""
    return [MilestoneRead.model_validate(m) for m in service.list_milestones(gate, referral_id)]


@router.post(
    "/update-requests",
    response_model=UpdateRequestRead,
    status_code=status.HTTP_201_CREATED,
    operation_id="requestReferralUpdate",
    responses=error_responses(Forbidden, Conflict, Unprocessable),
)
def request_referral_update(
    gate: ReferralsWrite, referral_id: uuid.UUID, data: UpdateRequestCreate
) -> UpdateRequestRead:
    """Ask the receiving organisation for an update (it gets a notice)."""
    referral, notice = service.request_update(gate, referral_id, data)
    return UpdateRequestRead(referral_id=referral.id, notice_id=notice.id)
