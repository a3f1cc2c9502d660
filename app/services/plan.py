"""The shared action plan: reading it through the sharing gate, goals and their steps.

Every goal and step is a whole record of category `plan`; what a caller sees is decided by
the gate per record (by its recording organisation). Who may *change* the plan is a
separate, smaller policy (`policy.may_edit_plan`): the plan's recording organisation and the
lead/contributor organisations of the care team. A step is updated by the lead
organisation's staff and by its owner only (`policy.may_update_step`): the owner organisation,
or the participant for steps they own, who records only its status and outcome.
"""

import uuid
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.etags import check_if_match, etag_for
from app.models.base import utcnow
from app.models.listing import WithheldCountRead
from app.models.organisation import Organisation, User
from app.models.participant import CareRole, CareTeamMember
from app.models.plan import (
    ACTION_TRANSITIONS,
    ORG_OWNER_KINDS,
    OUTCOME_FIELDS,
    Action,
    ActionCreate,
    ActionRead,
    ActionStatus,
    ActionUpdate,
    Goal,
    GoalCreate,
    GoalRead,
    GoalUpdate,
    OwnerKind,
    Plan,
    PlanRead,
    WorkbookRead,
    WorkbookStep,
)
from app.services.outbox import emit
from app.sharing import policy
from app.sharing.categories import Category
from app.sharing.decision import Allow, Deny
from app.sharing.gate import SharingGate, WithheldCount
from app.sharing.visibility import is_current_lead, membership_in_force

EDITING_ROLES = frozenset({CareRole.lead, CareRole.contributor})


def action_read(action: Action) -> ActionRead:
    """The API shape of a step, with its ETag."""
    return ActionRead.model_validate(action, update={"etag": etag_for("action", action.version)})


def goal_read(goal: Goal, actions: list[Action]) -> GoalRead:
    """The API shape of a goal with the given steps, with its ETag."""
    body = GoalRead.model_validate(goal, update={"etag": etag_for("goal", goal.version)})
    body.actions = [action_read(a) for a in actions]
    return body


def merge_withheld(*groups: list[WithheldCount]) -> list[WithheldCountRead]:
    """Withheld counts from several filters, summed per category and reason."""
    totals: dict[tuple[str, str], int] = {}
    for group in groups:
        for item in group:
            key = (item.category, item.reason)
            totals[key] = totals.get(key, 0) + item.count
    return [
        WithheldCountRead(category=c, reason=r, count=n) for (c, r), n in sorted(totals.items())
    ]


def current_plan(
    gate: SharingGate, participant_id: uuid.UUID, *, lock: bool = False
) -> Plan | None:
    """The participant's plan (row-locked for a write when `lock`), or None."""
    stmt = select(Plan).where(Plan.participant_id == participant_id)
    if lock:
        stmt = stmt.with_for_update()
    return gate.session.exec(stmt).first()


def plan_edit_verdict(
    gate: SharingGate, participant_id: uuid.UUID, plan: Plan | None
) -> policy.Verdict:
    """Whether the caller's organisation may change goals and steps of this plan."""
    caller = gate.caller
    if caller.is_participant:
        member = None
    else:
        member = gate.session.exec(
            select(CareTeamMember.id).where(
                CareTeamMember.participant_id == participant_id,
                CareTeamMember.organisation_id == caller.org_id,
                col(CareTeamMember.role).in_(list(EDITING_ROLES)),
                membership_in_force(gate.now),
            )
        ).first()
    return policy.may_edit_plan(
        gate.actor,
        plan_source_org_id=plan.source_org_id if plan is not None else None,
        editing_member=member is not None,
    )


def require_plan_editor(
    gate: SharingGate, participant_id: uuid.UUID, plan: Plan | None, action: str, resource: str
) -> None:
    """403 (and a refusal in the access log) unless the caller may edit the plan."""
    verdict = plan_edit_verdict(gate, participant_id, plan)
    gate.authorize(verdict, action, resource, participant_id)


def _visible_plan(
    gate: SharingGate, participant_id: uuid.UUID, resource: str
) -> tuple[Plan | None, list[GoalRead], list[ActionRead], list[WithheldCountRead]]:
    """The plan, its visible goals (with visible steps), visible orphan steps, withheld."""
    plan = current_plan(gate, participant_id)
    if plan is None:
        return None, [], [], []
    goals = gate.session.exec(
        select(Goal)
        .where(Goal.plan_id == plan.id)
        .order_by(col(Goal.priority), col(Goal.created_at), col(Goal.id))
    ).all()
    actions = gate.session.exec(
        select(Action)
        .where(Action.plan_id == plan.id)
        .order_by(col(Action.due_date).is_(None), col(Action.due_date), col(Action.created_at))
    ).all()
    source = lambda r: r.source_org_id  # noqa: E731
    shown_goals, goals_withheld = gate.filter_records(
        participant_id, goals, Category.plan, source, resource=resource
    )
    shown_actions, actions_withheld = gate.filter_records(
        participant_id, actions, Category.plan, source, resource=resource
    )
    by_goal: dict[uuid.UUID, list[Action]] = {}
    for action in shown_actions:
        by_goal.setdefault(action.goal_id, []).append(action)
    shown_ids = {g.id for g in shown_goals}
    orphans = [action_read(a) for a in shown_actions if a.goal_id not in shown_ids]
    reads = [goal_read(g, by_goal.get(g.id, [])) for g in shown_goals]
    return plan, reads, orphans, merge_withheld(goals_withheld, actions_withheld)


def read_plan(gate: SharingGate, participant_id: uuid.UUID) -> PlanRead:
    """The current plan as the caller may see it."""
    gate.participant_snapshot(participant_id, resource="plan")  # 404 unless visible
    plan, goals, orphans, withheld = _visible_plan(gate, participant_id, "plan")
    from app.services.plan_reviews import review_count

    reviews, reviews_withheld = review_count(gate, plan) if plan else (0, [])
    # The plan's version moves with every goal and step: shown only to a reader who sees
    # all of them (the ETag is derived from the visible body instead, app/core/etags.py).
    whole = not withheld and not reviews_withheld
    return PlanRead(
        participant_id=participant_id,
        id=plan.id if plan else None,
        source_org_id=plan.source_org_id if plan else None,
        version=(plan.version if plan else 0) if whole else None,
        reviews=reviews,
        goals=goals,
        steps_without_visible_goal=orphans,
        withheld=withheld,
    )


def workbook(gate: SharingGate, participant_id: uuid.UUID) -> WorkbookRead:
    """The participant's workbook: their goals, and the steps they own by due date."""
    gate.participant(participant_id, resource="workbook")
    _plan, goals, _orphans, withheld = _visible_plan(gate, participant_id, "workbook")
    today = gate.now.date()
    steps = [
        WorkbookStep(
            action=action,
            goal_id=goal.id,
            goal_title=goal.title,
            overdue=action.status == ActionStatus.planned
            and action.due_date is not None
            and action.due_date < today,
        )
        for goal in goals
        for action in goal.actions
        if action.owner_kind == OwnerKind.participant
    ]
    steps.sort(key=lambda s: (s.action.due_date is None, s.action.due_date or date.max))
    return WorkbookRead(
        participant_id=participant_id, goals=goals, my_steps=steps, withheld=withheld
    )


def _plan_for_write(gate: SharingGate, participant_id: uuid.UUID) -> Plan:
    """The participant's plan, locked; created (recorded by the caller) when there is none."""
    plan = current_plan(gate, participant_id, lock=True)
    if plan is not None:
        return plan
    require_plan_editor(gate, participant_id, None, "create", "plan")
    plan = Plan(participant_id=participant_id, source_org_id=gate.caller.org_id)
    try:
        # Added inside the savepoint, so that its rollback also forgets the row: added
        # before it, the row stayed pending and the next query's autoflush inserted it
        # again, failing the whole transaction (a 500 for every request but the first).
        with gate.session.begin_nested():
            gate.session.add(plan)
            gate.session.flush()
    except IntegrityError:
        # Another request created it first (PostgreSQL waited for its commit): use theirs.
        plan = current_plan(gate, participant_id, lock=True)
        if plan is None:
            raise Conflict("The plan is being created; retry.") from None
    return plan


def _touch_plan(gate: SharingGate, plan: Plan) -> None:
    plan.version += 1
    plan.updated_at = utcnow()
    gate.session.add(plan)
    emit(
        gate,
        "plan.changed",
        plan.participant_id,
        {"plan_id": plan.id},
        source_org_id=plan.source_org_id,
    )


def create_goal(gate: SharingGate, participant_id: uuid.UUID, data: GoalCreate) -> GoalRead:
    """Add a goal to the participant's plan (creating the plan if needed)."""
    gate.participant(participant_id, action="create", resource="goal")
    staff = policy.may_do_staff_work(gate.actor, policy.Work.add_goal)
    gate.authorize(staff, "create", "goal", participant_id)
    plan = _plan_for_write(gate, participant_id)
    require_plan_editor(gate, participant_id, plan, "create", "goal")
    goal = Goal(
        **data.model_dump(),
        plan_id=plan.id,
        participant_id=participant_id,
        source_org_id=gate.caller.org_id,
        created_by=gate.caller.subject,
    )
    gate.session.add(goal)
    _touch_plan(gate, plan)
    gate.session.flush()
    gate.wrote(
        participant_id, [Category.plan], action="create", resource="goal", resource_id=str(goal.id)
    )
    return goal_read(goal, [])


def _locked(gate: SharingGate, model: Any, record_id: uuid.UUID, participant_id: uuid.UUID) -> Any:
    row = gate.session.exec(
        select(model)
        .where(model.id == record_id, model.participant_id == participant_id)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound("No such record.")
    return row


def update_goal(
    gate: SharingGate,
    participant_id: uuid.UUID,
    goal_id: uuid.UUID,
    data: GoalUpdate,
    if_match: str | None,
) -> GoalRead:
    """Change a goal (If-Match on the goal's ETag; no lost updates)."""
    gate.participant(participant_id, action="update", resource="goal")
    plan = current_plan(gate, participant_id, lock=True)
    goal: Goal = _locked(gate, Goal, goal_id, participant_id)
    gate.require(
        participant_id,
        Category.plan,
        goal.source_org_id,
        action="update",
        resource="goal",
        resource_id=str(goal.id),
    )
    require_plan_editor(gate, participant_id, plan, "update", "goal")
    check_if_match(if_match, "goal", goal.version)
    changes = data.model_dump(exclude_unset=True)
    if not changes or any(changes.get(k, "") is None for k in changes):
        raise Unprocessable("Send at least one field to change, and no nulls.")
    for name, value in changes.items():
        setattr(goal, name, value)
    goal.version += 1
    goal.updated_at = utcnow()
    gate.session.add(goal)
    if plan is not None:
        _touch_plan(gate, plan)
    gate.session.flush()
    gate.wrote(
        participant_id, [Category.plan], action="update", resource="goal", resource_id=str(goal.id)
    )
    actions, _ = gate.filter_records(
        participant_id,
        gate.session.exec(select(Action).where(Action.goal_id == goal.id)).all(),
        Category.plan,
        lambda a: a.source_org_id,
        resource="goal",
        action="update",
    )
    return goal_read(goal, actions)


def _check_owner(
    gate: SharingGate, kind: OwnerKind, org_id: uuid.UUID | None, user_id: uuid.UUID | None
) -> None:
    if kind in ORG_OWNER_KINDS and org_id is None:
        raise Unprocessable("A practitioner or other professional owner needs owner_org_id.")
    if kind == OwnerKind.participant and (org_id or user_id):
        raise Unprocessable("A step the participant owns names no owner organisation or user.")
    if org_id is not None:
        org = gate.session.get(Organisation, org_id)
        if org is None or not org.active:
            raise Unprocessable("owner_org_id is not an active organisation.")
    if user_id is not None:
        user = gate.session.get(User, user_id)
        if user is None or user.organisation_id != org_id:
            raise Unprocessable("owner_user_id must be a user of owner_org_id.")


def create_action(gate: SharingGate, participant_id: uuid.UUID, data: ActionCreate) -> ActionRead:
    """Add a step towards one of the plan's goals."""
    gate.participant(participant_id, action="create", resource="action")
    staff = policy.may_do_staff_work(gate.actor, policy.Work.add_step)
    gate.authorize(staff, "create", "action", participant_id)
    plan = current_plan(gate, participant_id, lock=True)
    require_plan_editor(gate, participant_id, plan, "create", "action")
    goal = gate.session.exec(
        select(Goal).where(Goal.id == data.goal_id, Goal.participant_id == participant_id)
    ).first()
    decision = (
        None if goal is None else gate.decide(participant_id, Category.plan, goal.source_org_id)
    )
    if isinstance(decision, Deny):
        # A goal the caller may not see is answered as one that does not exist (not 404
        # for one and 422 for the other); the refusal is on the record all the same.
        gate.deny(participant_id, "create", "action", decision.reason)
    if plan is None or not isinstance(decision, Allow):
        raise Unprocessable("goal_id is not a goal of this participant's plan.")
    _check_owner(gate, data.owner_kind, data.owner_org_id, data.owner_user_id)
    action = Action(
        **data.model_dump(),
        plan_id=plan.id,
        participant_id=participant_id,
        source_org_id=gate.caller.org_id,
        created_by=gate.caller.subject,
    )
    gate.session.add(action)
    _touch_plan(gate, plan)
    gate.session.flush()
    gate.wrote(
        participant_id,
        [Category.plan],
        action="create",
        resource="action",
        resource_id=str(action.id),
    )
    return action_read(action)


def _require_step_updater(
    gate: SharingGate, action: Action, plan: Plan | None, fields: set[str]
) -> None:
    """403 unless the caller may change these fields of this step (may_update_step)."""
    caller = gate.caller
    owns = (
        action.owner_kind == OwnerKind.participant
        if caller.is_participant
        else action.owner_org_id == caller.org_id
    )
    verdict = policy.may_update_step(
        gate.actor,
        is_lead=not caller.is_participant
        and is_current_lead(gate.session, action.participant_id, caller.org_id, gate.now),
        is_plan_editor=plan_edit_verdict(gate, action.participant_id, plan).allowed,
        owns_step=owns,
        fields=fields,
    )
    gate.authorize(verdict, "update", "action", action.participant_id, resource_id=str(action.id))


def update_action(
    gate: SharingGate,
    participant_id: uuid.UUID,
    action_id: uuid.UUID,
    data: ActionUpdate,
    if_match: str | None,
) -> ActionRead:
    """Change a step; its owner may change only status and outcome (If-Match required)."""
    gate.participant(participant_id, action="update", resource="action")
    plan = current_plan(gate, participant_id, lock=True)
    action: Action = _locked(gate, Action, action_id, participant_id)
    gate.require(
        participant_id,
        Category.plan,
        action.source_org_id,
        action="update",
        resource="action",
        resource_id=str(action.id),
    )
    changes = data.model_dump(exclude_unset=True)
    _require_step_updater(gate, action, plan, set(changes))
    check_if_match(if_match, "action", action.version)
    if not changes:
        raise Unprocessable("The request changes nothing.")
    if "status" in changes:
        new = ActionStatus(changes["status"]) if changes["status"] else None
        if new is None:
            raise Unprocessable("status cannot be null.")
        if new != action.status and new not in ACTION_TRANSITIONS[action.status]:
            raise Conflict(f"A step cannot move from {action.status} to {new}.")
    note = changes.get("outcome_note", action.outcome_note)
    if changes.get("status") == ActionStatus.not_done and not note:
        raise Unprocessable("Say why the step was not done (outcome_note).")
    if changes.get("owner_kind", "") is None or changes.get("description", "") is None:
        raise Unprocessable("owner_kind and description cannot be null.")
    kind = OwnerKind(changes.get("owner_kind", action.owner_kind))
    owner_org = changes.get("owner_org_id", action.owner_org_id)
    owner_user = changes.get("owner_user_id", action.owner_user_id)
    if {"owner_kind", "owner_org_id", "owner_user_id"} & set(changes):
        _check_owner(gate, kind, owner_org, owner_user)
    for name, value in changes.items():
        setattr(action, name, value)
    if OUTCOME_FIELDS & set(changes):
        action.outcome_recorded_at = utcnow()
        action.outcome_recorded_by = gate.caller.subject
    action.version += 1
    action.updated_at = utcnow()
    gate.session.add(action)
    if plan is not None:
        _touch_plan(gate, plan)
    gate.session.flush()
    gate.wrote(
        participant_id,
        [Category.plan],
        action="update",
        resource="action",
        resource_id=str(action.id),
    )
    return action_read(action)
