"""The shared action plan: goals, steps, reviews, frozen versions and the workbook."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response, status
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
from app.core.etags import etag_of
from app.core.pagination import Paging
from app.core.rendered import RenderedJSON
from app.models.listing import RecordPage
from app.models.plan import (
    ActionCreate,
    ActionRead,
    ActionUpdate,
    GoalCreate,
    GoalRead,
    GoalUpdate,
    PlanRead,
    PlanVersionRead,
    ReviewCreate,
    ReviewRead,
    WorkbookRead,
)
from app.routers.idempotent import IdempotencyKey, create_once
from app.services import plan as service
from app.services import plan_reviews as reviews
from app.sharing.categories import Category
from app.sharing.deps import PlansRead, PlansWrite, one_hop

router = APIRouter(
    prefix="/api/v1/participants/{participant_id}/plan",
    tags=["plan"],
    responses={**AUTH_ERRORS, **error_responses(NotFound)},
)
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description="The record's ETag from your last read."),
]
WRITE_ERRORS = error_responses(
    Forbidden, Conflict, PreconditionFailed, PreconditionRequired, Unprocessable
)


@router.get("", response_model=PlanRead)
@one_hop
def read_plan(gate: PlansRead, participant_id: uuid.UUID) -> RenderedJSON:
    """The current shared action plan; goals and steps the caller may not see are counted."""
    body = service.read_plan(gate, participant_id).model_dump_json().encode()
    # Over what the caller was shown: hidden goals and steps never move it. The body is
    # sent as serialised here (built as a PlanRead: not validated or serialised again).
    return RenderedJSON(body, headers={"ETag": etag_of("plan", body)})


@router.get("/workbook", response_model=WorkbookRead)
def read_workbook(gate: PlansRead, participant_id: uuid.UUID) -> WorkbookRead:
    """The participant's workbook: their goals and the steps they own, by due date."""
    return service.workbook(gate, participant_id)


@router.post(
    "/goals",
    response_model=GoalRead,
    status_code=status.HTTP_201_CREATED,
    responses=WRITE_ERRORS,
)
def create_goal(
    gate: PlansWrite,
    participant_id: uuid.UUID,
    data: GoalCreate,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Add a goal to the plan (the plan is created with its first goal)."""
    return create_once(
        gate,
        request,
        idempotency_key,
        participant_id=participant_id,
        resource="goal",
        categories=[Category.plan],
        body=data,
        create=lambda: service.create_goal(gate, participant_id, data),
        headers=lambda made: {"ETag": str(made["etag"])},
    )


@router.patch("/goals/{goal_id}", response_model=GoalRead, responses=WRITE_ERRORS)
def update_goal(
    gate: PlansWrite,
    participant_id: uuid.UUID,
    goal_id: uuid.UUID,
    data: GoalUpdate,
    response: Response,
    if_match: IfMatch = None,
) -> GoalRead:
    """Change a goal (If-Match with the goal's ETag: 428 without it, 412 when stale)."""
    body = service.update_goal(gate, participant_id, goal_id, data, if_match)
    response.headers["ETag"] = body.etag
    return body


@router.post(
    "/actions",
    response_model=ActionRead,
    status_code=status.HTTP_201_CREATED,
    responses=WRITE_ERRORS,
)
def create_action(
    gate: PlansWrite,
    participant_id: uuid.UUID,
    data: ActionCreate,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Add a step towards a goal, with its owner, resource and due date."""
    return create_once(
        gate,
        request,
        idempotency_key,
        participant_id=participant_id,
        resource="action",
        categories=[Category.plan],
        body=data,
        create=lambda: service.create_action(gate, participant_id, data),
        headers=lambda made: {"ETag": str(made["etag"])},
    )


@router.patch("/actions/{action_id}", response_model=ActionRead, responses=WRITE_ERRORS)
def update_action(
    gate: PlansWrite,
    participant_id: uuid.UUID,
    action_id: uuid.UUID,
    data: ActionUpdate,
    response: Response,
    if_match: IfMatch = None,
) -> ActionRead:
    """Change a step; its owner (organisation or participant) records status and outcome."""
    body = service.update_action(gate, participant_id, action_id, data, if_match)
    response.headers["ETag"] = body.etag
    return body


@router.get("/reviews", response_model=RecordPage[ReviewRead])
def list_reviews(
    gate: PlansRead, participant_id: uuid.UUID, paging: Paging
) -> RecordPage[ReviewRead]:
    """Reviews of the plan, newest first."""
    return reviews.list_reviews(gate, participant_id, paging)


@router.post(
    "/reviews",
    response_model=ReviewRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Forbidden, Conflict, Unprocessable),
)
def create_review(
    gate: PlansWrite,
    participant_id: uuid.UUID,
    data: ReviewCreate,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Record a review meeting; it freezes the plan as the next version."""
    return create_once(
        gate,
        request,
        idempotency_key,
        participant_id=participant_id,
        resource="review",
        categories=[Category.plan],
        body=data,
        create=lambda: reviews.create_review(gate, participant_id, data),
    )


@router.get("/versions/{version}", response_model=PlanVersionRead)
def read_plan_version(
    gate: PlansRead,
    participant_id: uuid.UUID,
    version: Annotated[int, Path(ge=1, le=1_000_000)],
) -> PlanVersionRead:
    """The plan as a review froze it (filtered by what the caller may see now)."""
    return reviews.read_version(gate, participant_id, version)
