"""Referrals between organisations, with a closed loop back to the referrer."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, status
from fastapi.responses import JSONResponse

from app.auth.guards import AUTH_ERRORS
from app.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Unprocessable,
    error_responses,
)
from app.core.etags import etag_for
from app.core.pagination import Page, Paging
from app.models.participant import Phase
from app.models.referral import (
    ReferralAction,
    ReferralActionBody,
    ReferralCreate,
    ReferralRead,
    ReferralStatus,
    ReferralUpdate,
    Urgency,
)
from app.services import referrals as service
from app.services.idempotency import request_fingerprint, run_idempotent
from app.services.referral_boxes import Box, BoxFilter, list_box
from app.sharing.deps import ReferralsRead, ReferralsWrite

router = APIRouter(prefix="/api/v1/referrals", tags=["referrals"], responses=AUTH_ERRORS)
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Retry-safe creation; required for partner-system (client) tokens.",
    ),
]


@router.get("", response_model=Page[ReferralRead], response_model_exclude_unset=True)
def list_referrals(
    gate: ReferralsRead,
    paging: Paging,
    box: Box = Box.inbox,
    status: ReferralStatus | None = None,
    urgency: Urgency | None = None,
    phase: Phase | None = None,
    overdue: bool | None = None,
) -> Page[ReferralRead]:
    """The organisation's inbox (addressed to it) or outbox (sent by it), newest first.

    `phase` and the release-date part of `overdue` use the participant's custody details
    only where the caller may see them: a referral whose participant's custody is withheld
    matches no `phase`, and is overdue only by time since submission.
    """
    flt = BoxFilter(box=box, status=status, urgency=urgency, phase=phase, overdue=overdue)
    items, cursor = list_box(gate, flt, paging)
    return Page(items=[ReferralRead.model_validate(i) for i in items], next_cursor=cursor)


@router.post(
    "",
    response_model=ReferralRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(NotFound, Forbidden, Conflict, PreconditionRequired, Unprocessable),
)
def create_referral(
    gate: ReferralsWrite,
    data: ReferralCreate,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Save a draft referral, or submit it at once (`submit: true`); 422 lists refusals."""
    if gate.caller.token_type == "client" and not idempotency_key:
        raise PreconditionRequired("Partner systems must send an Idempotency-Key header.")

    def create() -> tuple[int, dict[str, Any], str | None]:
        body = ReferralRead.model_validate(service.create_referral(gate, data))
        return 201, body.model_dump(mode="json"), str(body.id)

    outcome = run_idempotent(
        gate.session,
        gate.caller,
        "referrals",
        idempotency_key,
        request_fingerprint(request.url.path, data.model_dump(mode="json")),
        create,
    )
    if outcome.replayed:
        gate.disclosed(
            uuid.UUID(str(outcome.body["participant_id"])),
            "referrals",
            "idempotent_replay",
            action="create_replay",
            resource="referral",
            resource_id=outcome.resource_id,
        )
    headers = {
        "Location": f"/api/v1/referrals/{outcome.resource_id}",
        "ETag": etag_for("r", int(outcome.body["version"])),
    }
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


@router.get(
    "/{referral_id}",
    response_model=ReferralRead,
    response_model_exclude_unset=True,
    responses=error_responses(NotFound),
)
def read_referral(gate: ReferralsRead, referral_id: uuid.UUID, response: Response) -> ReferralRead:
    """One referral with every transition (who, when), for either party."""
    referral, seen = service.find_referral(gate, referral_id)
    response.headers["ETag"] = etag_for("r", referral.version)
    return ReferralRead.model_validate(service.referral_view(gate, referral, seen=seen))


@router.patch(
    "/{referral_id}",
    response_model=ReferralRead,
    response_model_exclude_unset=True,
    responses=error_responses(
        NotFound, Forbidden, Conflict, PreconditionFailed, PreconditionRequired, Unprocessable
    ),
)
def update_referral(
    gate: ReferralsWrite,
    referral_id: uuid.UUID,
    data: ReferralUpdate,
    response: Response,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> ReferralRead:
    """Change a draft, or amend a submitted, accepted or in-progress referral (If-Match
    required: 428 without it, 412 when stale).

    An amendment needs `change_reason`; each changed field goes into the referral's
    `amendments` log (old and new value, who, when, why), and the recipient gets a notice.
    Added categories are checked with the sharing decision: one the recipient may not
    receive refuses the whole amendment (422 listing the refusals) and nothing changes.
    """
    referral, _ = service.find_referral(gate, referral_id, action="update", for_update=True)
    body = service.update_referral(gate, referral, data, if_match)
    response.headers["ETag"] = etag_for("r", referral.version)
    return ReferralRead.model_validate(body)


@router.post(
    "/{referral_id}/{action}",
    response_model=ReferralRead,
    response_model_exclude_unset=True,
    responses=error_responses(NotFound, Forbidden, Conflict, PreconditionFailed, Unprocessable),
)
def act_on_referral(
    gate: ReferralsWrite,
    referral_id: uuid.UUID,
    action: ReferralAction,
    response: Response,
    body: ReferralActionBody | None = None,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> ReferralRead:
    """Submit, accept, decline (reason), start, complete (outcome) or withdraw; 409 if illegal.

    If-Match is optional here (the transition table already guards the state); when sent,
    a stale ETag is refused with 412.
    """
    referral, _ = service.find_referral(gate, referral_id, action=str(action), for_update=True)
    result = service.apply_action(gate, referral, action, body or ReferralActionBody(), if_match)
    response.headers["ETag"] = etag_for("r", referral.version)
    return ReferralRead.model_validate(result)
