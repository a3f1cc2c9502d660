"""FHIR resources for the plan and screenings (CarePlan, Goal, QuestionnaireResponse,
Observation), from the gated reads the API uses (app/services/fhir.py assembles them)."""

import uuid
from typing import Any

from app.core.pagination import PageParams
from app.models.plan import ActionRead, GoalRead, PlanRead
from app.models.screening import ScreeningRead
from app.services.plan import read_plan
from app.services.screenings import list_screenings
from app.sharing.gate import SharingGate

LOINC = "http://loinc.org"
# Totals with a LOINC code (CORE-10 has none: its total is named in text only).
TOTAL_CODES = {"PHQ-9": ("44261-6", "PHQ-9 total score"), "GAD-7": ("70274-6", "GAD-7 total score")}
_GOAL_STATUS = {
    "active": "active",
    "achieved": "completed",
    "on_hold": "on-hold",
    "dropped": "cancelled",
}
_ACTIVITY_STATUS = {
    "planned": "not-started",
    "done": "completed",
    "not_done": "stopped",
    "cancelled": "cancelled",
}
_ALL = PageParams(limit=1000, cursor=None)


def _meta(source_org_id: Any) -> dict[str, Any]:
    return {"source": f"urn:uuid:{source_org_id}"}


def _goal(pid: uuid.UUID, goal: GoalRead) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Goal",
        "id": str(goal.id),
        "meta": _meta(goal.source_org_id),
        "lifecycleStatus": _GOAL_STATUS[str(goal.status)],
        "description": {"text": goal.title},
        "subject": {"reference": f"Patient/{pid}"},
        "category": [{"text": str(goal.life_domain).replace("_", " ")}],
    }
    if str(goal.status) == "achieved":
        out["achievementStatus"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/goal-achievement",
                    "code": "achieved",
                }
            ]
        }
    return out


def _activity(action: ActionRead) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "status": _ACTIVITY_STATUS[str(action.status)],
        "description": action.description,
        "goal": [{"reference": f"Goal/{action.goal_id}"}],
    }
    if action.due_date:
        detail["scheduledString"] = f"due {action.due_date.isoformat()}"
    return {"detail": detail}


def plan_resources(gate: SharingGate, pid: uuid.UUID) -> tuple[list[dict[str, Any]], PlanRead]:
    """CarePlan and its Goals, as much of them as the caller may see."""
    plan = read_plan(gate, pid)
    if plan.id is None or not (plan.goals or plan.steps_without_visible_goal):
        return [], plan
    goals = [_goal(pid, g) for g in plan.goals]
    actions = [a for g in plan.goals for a in g.actions] + plan.steps_without_visible_goal
    care_plan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": str(plan.id),
        "meta": _meta(plan.source_org_id),
        "status": "active",
        "intent": "plan",
        "subject": {"reference": f"Patient/{pid}"},
    }
    if goals:
        care_plan["goal"] = [{"reference": f"Goal/{g['id']}"} for g in goals]
    if actions:
        care_plan["activity"] = [_activity(a) for a in actions]
    return [care_plan, *goals], plan


def _screening(pid: uuid.UUID, s: ScreeningRead) -> list[dict[str, Any]]:
    instrument = str(s.instrument)
    response_id = str(uuid.uuid5(s.id, "questionnaire-response"))
    answers = {
        "resourceType": "QuestionnaireResponse",
        "id": response_id,
        "meta": _meta(s.source_org_id),
        "status": "completed",
        "subject": {"reference": f"Patient/{pid}"},
        "authored": s.administered_at.isoformat(),
        "item": [
            {"linkId": str(i + 1), "answer": [{"valueInteger": value}]}
            for i, value in enumerate(s.responses)
        ],
    }
    code: dict[str, Any] = {"text": f"{instrument} total score"}
    if instrument in TOTAL_CODES:
        loinc, display = TOTAL_CODES[instrument]
        code = {"coding": [{"system": LOINC, "code": loinc, "display": display}], "text": display}
    total = {
        "resourceType": "Observation",
        "id": str(s.id),
        "meta": _meta(s.source_org_id),
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "survey",
                    }
                ]
            }
        ],
        "code": code,
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": s.administered_at.isoformat(),
        "valueInteger": s.total,
        "interpretation": [{"text": s.severity}],
        "derivedFrom": [{"reference": f"QuestionnaireResponse/{response_id}"}],
    }
    return [answers, total]


def screening_resources(gate: SharingGate, pid: uuid.UUID) -> tuple[list[dict[str, Any]], Any]:
    """QuestionnaireResponse and total-score Observation per screening the caller may see."""
    page = list_screenings(gate, pid, _ALL)
    return [r for s in page.items for r in _screening(pid, s)], page
