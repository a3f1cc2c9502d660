"""Evidence from the care record (shared action plan, appointments) for release readiness.

Every check reads the participant's goals and actions (category `plan`) or appointments
(category `appointments`) through the sharing gate, record by record, by the
organisation that recorded each one. Only records the caller may see can make an item
`met`, and only they are named in the evidence ids. When nothing visible meets an item
and *any* of the participant's records of that category is withheld from the caller,
the answer is `unknown` with the withholding reason: a withheld record might be the
evidence, so "not met" would be a guess. (The SQL deliberately selects all of the
participant's records of the category, not only the likely ones: narrowing it by a
hidden record's content, say its life domain or kind, would turn `unknown` into a hint
about what the hidden records are.) Otherwise the item is `not_met`, with a note.

The rules, one per item:

- goal_with_done_action(domain): a visible goal in that life domain with at least one
  visible action whose status is `done`. Evidence: the goal id, then those action ids.
- medication_arranged: a visible goal in the `health` or `substance_use` life domain (the
  latter for opioid-substitution prescriptions) with a visible `done` action whose
  description or resource mentions medication (MEDICATION_TERMS: medication, medicine(s),
  meds, prescription/prescribe(d), pharmacy/pharmacist). Appointments do not count: a
  clinic or assessment appointment is not evidence that medication is in place.
- gate_meeting(release_date): a visible appointment of kind `gate_meeting` starting on
  the release date (UTC calendar date) that is not cancelled and not recorded as
  did-not-attend. Without a release date known to the caller there is nothing to match:
  `unknown` when custody is withheld from the caller, else `not_met`.
- reporting_instructions_given(release_date), met by either route:
  1. a visible `done` action (any goal) whose description or resource mentions
     "reporting instruction(s)"; or
  2. a visible appointment with a probation organisation (`with_org_id` of kind
     `probation`) starting on the release date or within REPORTING_WINDOW_DAYS after it,
     not cancelled: the first reporting appointment, which the participant also sees in
     their own appointments.
"""

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol, TypeVar

from sqlmodel import col, select

from app.models.appointment import Appointment, AppointmentKind, Attendance
from app.models.organisation import Organisation, OrgKind
from app.models.participant import Participant
from app.models.plan import Action, ActionStatus, Goal, LifeDomain
from app.models.readiness import ReadinessStatus
from app.sharing.categories import Category
from app.sharing.decision import Deny
from app.sharing.gate import SharingGate, WithheldCount

RESOURCE = "release_readiness"

MEDICATION_DOMAINS = frozenset({LifeDomain.health, LifeDomain.substance_use})
MEDICATION_TERMS = re.compile(
    r"\b(medication|medications|medicines?|meds|prescription|prescriptions|prescribed?"
    r"|pharmacy|pharmacist)\b",
    re.IGNORECASE,
)
REPORTING_TERMS = re.compile(r"\breporting\s+instructions?\b", re.IGNORECASE)
REPORTING_WINDOW_DAYS = 7
_NOT_HELD = frozenset({Attendance.cancelled, Attendance.did_not_attend})
_RANK = {ReadinessStatus.met: 0, ReadinessStatus.unknown: 1, ReadinessStatus.not_met: 2}


class _Recorded(Protocol):
    @property
    def source_org_id(self) -> uuid.UUID: ...


R = TypeVar("R", bound=_Recorded)


@dataclass(frozen=True)
class Evidence:
    status: ReadinessStatus
    ids: tuple[str, ...] = ()
    note: str | None = None


def _visible(
    gate: SharingGate, participant: Participant, rows: list[R], category: Category
) -> tuple[list[R], str | None]:
    """The rows the caller may see, and the first withholding reason if any is hidden."""
    shown, withheld = gate.filter_records(
        participant.id, rows, category, lambda r: r.source_org_id, resource=RESOURCE
    )
    return shown, _reason(withheld)


def _reason(withheld: list[WithheldCount]) -> str | None:
    return withheld[0].reason if withheld else None


def _plan_records(
    gate: SharingGate, participant: Participant
) -> tuple[list[Goal], list[Action], str | None]:
    """All of the participant's visible goals and actions, and why any are withheld."""
    goals = list(
        gate.session.exec(
            select(Goal)
            .where(Goal.participant_id == participant.id)
            .order_by(col(Goal.created_at), col(Goal.id))
        ).all()
    )
    actions = list(
        gate.session.exec(
            select(Action)
            .where(Action.participant_id == participant.id)
            .order_by(col(Action.created_at), col(Action.id))
        ).all()
    )
    shown_goals, goals_withheld = _visible(gate, participant, goals, Category.plan)
    shown_actions, actions_withheld = _visible(gate, participant, actions, Category.plan)
    return shown_goals, shown_actions, goals_withheld or actions_withheld


def _appointments(
    gate: SharingGate, participant: Participant
) -> tuple[list[Appointment], str | None]:
    rows = list(
        gate.session.exec(
            select(Appointment)
            .where(Appointment.participant_id == participant.id)
            .order_by(col(Appointment.starts_at), col(Appointment.id))
        ).all()
    )
    return _visible(gate, participant, rows, Category.appointments)


def _done_actions_on_goals(
    goals: list[Goal],
    actions: list[Action],
    goal_ok: Callable[[Goal], bool],
    action_ok: Callable[[Action], bool],
) -> tuple[str, ...]:
    """Ids of each matching goal followed by its matching done actions (visible only)."""
    ids: list[str] = []
    for goal in goals:
        if not goal_ok(goal):
            continue
        done = [
            a
            for a in actions
            if a.goal_id == goal.id and a.status == ActionStatus.done and action_ok(a)
        ]
        if done:
            ids.append(str(goal.id))
            ids.extend(str(a.id) for a in done)
    return tuple(ids)


def _mentions(pattern: re.Pattern[str], action: Action) -> bool:
    return any(pattern.search(text or "") for text in (action.description, action.resource))


def _unmet(withheld: str | None, what: str, not_met_note: str) -> Evidence:
    if withheld:
        return Evidence(ReadinessStatus.unknown, note=f"{what} withheld ({withheld}).")
    return Evidence(ReadinessStatus.not_met, note=not_met_note)


def goal_with_done_action(
    gate: SharingGate, participant: Participant, life_domain: str
) -> Evidence:
    """A visible goal in `life_domain` with at least one visible action `done`.

    met: evidence ids are each such goal followed by its done actions. Otherwise
    unknown when any of the participant's plan records is withheld from the caller (one of
    them could be the evidence), else not_met.
    """
    goals, actions, withheld = _plan_records(gate, participant)
    ids = _done_actions_on_goals(
        goals, actions, lambda g: g.life_domain == life_domain, lambda a: True
    )
    if ids:
        return Evidence(ReadinessStatus.met, ids)
    if any(g.life_domain == life_domain for g in goals):
        note = f"No done step on a {life_domain} goal."
    else:
        note = f"No {life_domain} goal in the plan."
    return _unmet(withheld, "Plan records", note)


def medication_arranged(gate: SharingGate, participant: Participant) -> Evidence:
    """Medication on release is arranged when the plan says a step doing so is done.

    Rule: a visible goal in the `health` or `substance_use` life domain with a visible
    action whose status is `done` and whose description or resource mentions medication
    (MEDICATION_TERMS: medication(s), medicine(s), meds, prescription(s), prescribe(d),
    pharmacy, pharmacist; whole words, any case). Evidence: the goal id, then the action
    ids. Appointments are not evidence. Otherwise unknown when any plan record is withheld
    from the caller, else not_met.
    """
    goals, actions, withheld = _plan_records(gate, participant)
    ids = _done_actions_on_goals(
        goals,
        actions,
        lambda g: g.life_domain in MEDICATION_DOMAINS,
        lambda a: _mentions(MEDICATION_TERMS, a),
    )
    if ids:
        return Evidence(ReadinessStatus.met, ids)
    return _unmet(
        withheld,
        "Plan records",
        "No done step on a health or substance-use goal arranging medication.",
    )


def _no_release_date(gate: SharingGate, participant: Participant) -> Evidence:
    decision = gate.decide(participant.id, Category.custody, participant.source_org_id)
    if isinstance(decision, Deny):
        return Evidence(ReadinessStatus.unknown, note=f"Release date withheld ({decision.reason}).")
    return Evidence(ReadinessStatus.not_met, note="No release date recorded.")


def gate_meeting(
    gate: SharingGate, participant: Participant, release_date: date | None
) -> Evidence:
    """Someone meets them at the gate: a `gate_meeting` appointment on the release date.

    Rule: a visible appointment of kind `gate_meeting` whose start falls on the release
    date (UTC calendar date) and whose attendance is not `cancelled` or `did_not_attend`.
    Evidence: the appointment ids. `release_date` is the date the caller may know (None
    when custody is withheld from them): then unknown, or not_met when the caller may
    see custody but no date is recorded. Otherwise unknown when any appointment is
    withheld from the caller, else not_met.
    """
    if release_date is None:
        return _no_release_date(gate, participant)
    rows, withheld = _appointments(gate, participant)
    ids = tuple(
        str(a.id)
        for a in rows
        if a.kind == AppointmentKind.gate_meeting
        and a.starts_at.date() == release_date
        and a.attendance not in _NOT_HELD
    )
    if ids:
        return Evidence(ReadinessStatus.met, ids)
    return _unmet(withheld, "Appointments", "No gate meeting booked for the release date.")


def _probation_orgs(gate: SharingGate, org_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    if not org_ids:
        return set()
    rows = gate.session.exec(
        select(Organisation.id).where(
            col(Organisation.id).in_(list(org_ids)), Organisation.kind == OrgKind.probation
        )
    ).all()
    return set(rows)


def _best(*routes: Evidence) -> Evidence:
    best = min(routes, key=lambda e: _RANK[e.status])
    ids = tuple(i for e in routes if e.status == best.status for i in e.ids)
    if best.status == ReadinessStatus.met:
        return Evidence(best.status, ids)
    notes = [e.note for e in routes if e.note]
    return Evidence(best.status, ids, " ".join(dict.fromkeys(notes)) or None)


def reporting_instructions_given(
    gate: SharingGate, participant: Participant, release_date: date | None
) -> Evidence:
    """Reporting instructions given: a done plan step or the first probation appointment.

    Rule, met by either route (evidence: the ids of every route that is met):
      1. a visible action whose status is `done` (on any goal) and whose description or
         resource mentions "reporting instruction(s)";
      2. a visible appointment with a probation organisation (`with_org_id` of kind
         `probation`) starting on the release date or up to REPORTING_WINDOW_DAYS (7)
         days after it (UTC calendar dates), attendance not `cancelled`.
    When neither is met: unknown when either route's records (or the release date, for
    route 2) are withheld from the caller, else not_met.
    """
    _goals, actions, plan_withheld = _plan_records(gate, participant)
    done = tuple(
        str(a.id)
        for a in actions
        if a.status == ActionStatus.done and _mentions(REPORTING_TERMS, a)
    )
    by_plan = (
        Evidence(ReadinessStatus.met, done)
        if done
        else _unmet(plan_withheld, "Plan records", "No done step giving reporting instructions.")
    )
    if release_date is None:
        by_appointment = _no_release_date(gate, participant)
    else:
        rows, withheld = _appointments(gate, participant)
        last = release_date + timedelta(days=REPORTING_WINDOW_DAYS)
        candidates = [
            a
            for a in rows
            if a.with_org_id is not None
            and release_date <= a.starts_at.date() <= last
            and a.attendance != Attendance.cancelled
        ]
        probation = _probation_orgs(gate, {a.with_org_id for a in candidates if a.with_org_id})
        ids = tuple(str(a.id) for a in candidates if a.with_org_id in probation)
        by_appointment = (
            Evidence(ReadinessStatus.met, ids)
            if ids
            else _unmet(
                withheld,
                "Appointments",
                "No probation appointment in the week after release.",
            )
        )
    return _best(by_plan, by_appointment)
