"""Plan reviews: each review freezes the plan as it stood; frozen versions read back
through the sharing gate item by item (what the caller may see *now*)."""

import uuid
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from app.core.errors import Conflict, NotFound
from app.core.pagination import PageParams, paginate
from app.models.listing import RecordPage
from app.models.plan import (
    Action,
    Goal,
    GoalRead,
    Plan,
    PlanVersion,
    PlanVersionRead,
    Review,
    ReviewCreate,
    ReviewRead,
)
from app.services.plan import current_plan, goal_read, merge_withheld, require_plan_editor
from app.sharing.categories import Category
from app.sharing.gate import SharingGate, WithheldCount


def review_count(gate: SharingGate, plan: Plan) -> tuple[int, list[WithheldCount]]:
    """How many of the plan's reviews the caller may see, and counts of the others (decided
    per recording organisation; no review content)."""
    groups = gate.session.exec(
        select(Review.source_org_id, func.count())
        .where(Review.plan_id == plan.id)
        .group_by(col(Review.source_org_id))
    ).all()
    shown, withheld = gate.filter_records(
        plan.participant_id, groups, Category.plan, lambda g: g[0], resource="plan"
    )
    return sum(int(n) for _, n in shown), withheld


def list_reviews(
    gate: SharingGate, participant_id: uuid.UUID, paging: PageParams
) -> RecordPage[ReviewRead]:
    """Reviews of the plan the caller may see, most recently recorded first."""
    gate.participant(participant_id, action="list", resource="review")
    stmt = select(Review).where(Review.participant_id == participant_id)
    rows, cursor = paginate(
        gate.session, stmt, [Review.created_at, Review.id], paging, descending=True
    )
    shown, withheld = gate.filter_records(
        participant_id,
        rows,
        Category.plan,
        lambda r: r.source_org_id,
        resource="review",
        action="list",
    )
    return RecordPage(
        items=[ReviewRead.model_validate(r) for r in shown],
        next_cursor=cursor,
        withheld=merge_withheld(withheld),
    )


def _snapshot(gate: SharingGate, plan: Plan) -> list[dict[str, Any]]:
    """Every goal and step of the plan as it stands (unfiltered: filtered when read)."""
    goals = gate.session.exec(
        select(Goal).where(Goal.plan_id == plan.id).order_by(col(Goal.priority), col(Goal.id))
    ).all()
    actions = gate.session.exec(
        select(Action).where(Action.plan_id == plan.id).order_by(col(Action.created_at))
    ).all()
    by_goal: dict[uuid.UUID, list[Action]] = {}
    for action in actions:
        by_goal.setdefault(action.goal_id, []).append(action)
    return [goal_read(g, by_goal.get(g.id, [])).model_dump(mode="json") for g in goals]


def create_review(gate: SharingGate, participant_id: uuid.UUID, data: ReviewCreate) -> ReviewRead:
    """Record a review meeting and freeze the plan as it stood as the next version."""
    gate.participant(participant_id, action="create", resource="review")
    plan = current_plan(gate, participant_id, lock=True)
    require_plan_editor(gate, participant_id, plan, "create", "review")
    if plan is None:
        raise Conflict("There is no plan to review yet: add a goal first.")
    number = 1 + int(
        gate.session.exec(
            select(func.coalesce(func.max(PlanVersion.number), 0)).where(
                PlanVersion.plan_id == plan.id
            )
        ).one()
    )
    review = Review(
        **data.model_dump(),
        plan_id=plan.id,
        participant_id=participant_id,
        source_org_id=gate.caller.org_id,
        plan_version=number,
        recorded_by=gate.caller.subject,
    )
    gate.session.add(review)
    gate.session.flush()
    gate.session.add(
        PlanVersion(
            plan_id=plan.id,
            participant_id=participant_id,
            source_org_id=gate.caller.org_id,
            number=number,
            review_id=review.id,
            snapshot=_snapshot(gate, plan),
        )
    )
    gate.session.flush()
    gate.wrote(
        participant_id,
        [Category.plan],
        action="create",
        resource="review",
        resource_id=str(review.id),
    )
    return ReviewRead.model_validate(review)


_NO_VERSION = "No such plan version."


def _source(item: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(str(item["source_org_id"]))


def read_version(gate: SharingGate, participant_id: uuid.UUID, number: int) -> PlanVersionRead:
    """One frozen version of the plan, each goal and step filtered by the gate."""
    gate.participant(participant_id, resource="plan_version")
    row = gate.session.exec(
        select(PlanVersion).where(
            PlanVersion.participant_id == participant_id, PlanVersion.number == number
        )
    ).first()
    if row is None:
        raise NotFound(_NO_VERSION)
    try:
        gate.require(
            participant_id,
            Category.plan,
            row.source_org_id,
            action="read",
            resource="plan_version",
            resource_id=str(row.id),
        )
    except NotFound:
        # The same answer as for a version that does not exist (the refusal is logged).
        raise NotFound(_NO_VERSION) from None
    goals, withheld_goals = gate.filter_records(
        participant_id, row.snapshot, Category.plan, _source, resource="plan_version"
    )
    withheld_actions: list[WithheldCount] = []
    shown: list[GoalRead] = []
    for goal in goals:
        actions, withheld = gate.filter_records(
            participant_id,
            goal.get("actions", []),
            Category.plan,
            _source,
            resource="plan_version",
        )
        withheld_actions.extend(withheld)
        shown.append(GoalRead.model_validate({**goal, "actions": actions}))
    return PlanVersionRead(
        participant_id=participant_id,
        id=row.id,
        source_org_id=row.source_org_id,
        version=row.number,
        review_id=row.review_id,
        created_at=row.created_at,
        goals=shown,
        withheld=merge_withheld(withheld_goals, withheld_actions),
    )
