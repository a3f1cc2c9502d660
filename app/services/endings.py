"""The ending checklist: each item met (with evidence ids), not met, or unknown (withheld).

- `end_date_set`: the intervention end date is recorded (a `plan` field of the record);
- `handover_confirmed` and `participant_told`: confirmed by the lead organisation;
- `plan_reviewed`: a plan review held in the window before the end date (settings).
Everything is read through the gate as `plan` information of whoever recorded it.
"""

import uuid
from datetime import date, timedelta

from sqlmodel import col, select

from app.core.etags import check_if_match
from app.core.pagination import PageParams
from app.core.settings import get_settings
from app.models.base import utcnow
from app.models.endings import Ending, EndingChecklist, EndingChecklistUpdate, UpcomingEnding
from app.models.participant import Participant, Phase, Withheld
from app.models.plan import Review
from app.models.readiness import ReadinessItem, ReadinessStatus
from app.services.filtered_pages import paginate_kept
from app.sharing import policy
from app.sharing.categories import Category
from app.sharing.decision import Deny
from app.sharing.gate import SharingGate
from app.sharing.visibility import is_current_lead, visible_participants

RESOURCE = "ending"
ETAG_KIND = "ending"


def _item(
    key: str,
    label: str,
    status: ReadinessStatus,
    ids: list[str] | None = None,
    note: str | None = None,
) -> ReadinessItem:
    return ReadinessItem(key=key, label=label, status=status, evidence_ids=ids or [], note=note)


def _end_date(gate: SharingGate, participant: Participant) -> tuple[date | None, str | None]:
    decision = gate.decide(participant.id, Category.plan, participant.source_org_id)
    if isinstance(decision, Deny):
        return None, decision.reason
    gate.disclosed(participant.id, Category.plan, decision.basis, action="read", resource=RESOURCE)
    return participant.intervention_end, None


def _checklist(
    gate: SharingGate, participant_id: uuid.UUID, lock: bool = False
) -> tuple[EndingChecklist | None, str | None]:
    stmt = select(EndingChecklist).where(EndingChecklist.participant_id == participant_id)
    row = gate.session.exec(stmt.with_for_update() if lock else stmt).first()
    if row is None:
        return None, None
    shown, hidden = gate.filter_records(
        participant_id, [row], Category.plan, lambda r: r.source_org_id, resource=RESOURCE
    )
    return (row, None) if shown else (None, hidden[0].reason)


def _plan_reviewed(gate: SharingGate, participant: Participant, end: date | None) -> ReadinessItem:
    key, label = "plan_reviewed", "Plan reviewed together for the ending"
    if end is None:
        return _item(key, label, ReadinessStatus.not_met, note="No end date to review against.")
    window = get_settings().ending_review_window_days
    reviews = gate.session.exec(
        select(Review)
        .where(
            Review.participant_id == participant.id,
            col(Review.held_on) >= end - timedelta(days=window),
        )
        .order_by(col(Review.held_on), col(Review.id))
    ).all()
    shown, hidden = gate.filter_records(
        participant.id, reviews, Category.plan, lambda r: r.source_org_id, resource=RESOURCE
    )
    if shown:
        return _item(key, label, ReadinessStatus.met, [str(r.id) for r in shown])
    if hidden:
        return _item(
            key, label, ReadinessStatus.unknown, note=f"Reviews withheld ({hidden[0].reason})."
        )
    return _item(
        key,
        label,
        ReadinessStatus.not_met,
        note=f"No plan review in the {window} days before the end.",
    )


def _items(gate: SharingGate, participant: Participant) -> tuple[Ending, list[ReadinessItem]]:
    end, plan_withheld = _end_date(gate, participant)
    checklist, checklist_withheld = _checklist(gate, participant.id)
    unknown = ReadinessStatus.unknown
    if plan_withheld:
        end_item = _item("end_date_set", "Intervention end date set", unknown, note="Withheld.")
    elif end is None:
        end_item = _item("end_date_set", "Intervention end date set", ReadinessStatus.not_met)
    else:
        end_item = _item("end_date_set", "Intervention end date set", ReadinessStatus.met)
    confirmed = []
    for key, label, at in (
        ("handover_confirmed", "Handover to community services confirmed",
         checklist.handover_confirmed_at if checklist else None),
        ("participant_told", "The person told about the ending and who to contact",
         checklist.participant_told_at if checklist else None),
    ):  # fmt: skip
        if checklist_withheld:
            confirmed.append(_item(key, label, unknown, note=f"Withheld ({checklist_withheld})."))
        elif checklist is not None and at is not None:
            note = checklist.handover_note if key == "handover_confirmed" else None
            confirmed.append(_item(key, label, ReadinessStatus.met, [str(checklist.id)], note))
        else:
            confirmed.append(_item(key, label, ReadinessStatus.not_met))
    items = [end_item, *confirmed, _plan_reviewed(gate, participant, end)]
    view = Ending(
        participant_id=participant.id,
        intervention_end=end,
        days_to_end=(end - gate.now.date()).days if end else None,
        items=items,
        open_items=[i.key for i in items if i.status != ReadinessStatus.met],
        version=checklist.version if checklist else 0,
        withheld=[Withheld(category=Category.plan, reason=plan_withheld)] if plan_withheld else [],
    )
    return view, items


def ending(gate: SharingGate, participant: Participant) -> Ending:
    """The ending checklist of one participant, as the caller may know it."""
    return _items(gate, participant)[0]


def record_ending(
    gate: SharingGate,
    participant: Participant,
    data: EndingChecklistUpdate,
    if_match: str | None,
) -> Ending:
    """Confirm (or take back) the handover and the person being told: the lead organisation."""
    is_lead = is_current_lead(gate.session, participant.id, gate.caller.org_id, gate.now)
    gate.authorize(
        policy.may_record_ending(gate.actor, is_lead=is_lead), "update", RESOURCE, participant.id
    )
    row = gate.session.exec(
        select(EndingChecklist)
        .where(EndingChecklist.participant_id == participant.id)
        .with_for_update()
    ).first()
    check_if_match(if_match, ETAG_KIND, row.version if row else 0)
    now = utcnow()
    if row is None:
        row = EndingChecklist(participant_id=participant.id, source_org_id=gate.caller.org_id)
    else:
        row.version += 1
    row.source_org_id = gate.caller.org_id
    if data.handover_confirmed != (row.handover_confirmed_at is not None):
        row.handover_confirmed_at = now if data.handover_confirmed else None
        row.handover_confirmed_by = gate.caller.subject if data.handover_confirmed else None
    row.handover_note = data.handover_note
    if data.participant_told != (row.participant_told_at is not None):
        row.participant_told_at = now if data.participant_told else None
        row.participant_told_by = gate.caller.subject if data.participant_told else None
    row.updated_at = now
    gate.session.add(row)
    gate.session.flush()
    gate.wrote(
        participant.id, [Category.plan], action="update", resource=RESOURCE, resource_id=str(row.id)
    )
    return ending(gate, participant)


def upcoming_endings(
    gate: SharingGate, within_days: int, paging: PageParams
) -> tuple[list[UpcomingEnding], str | None]:
    """The caller's participants whose intervention ends within `within_days`, soonest first
    (only those whose plan information, where the end date lives, the caller may see)."""
    gate.authorize(
        policy.may_do_staff_work(gate.actor, policy.Work.read_worklists), "list", RESOURCE
    )
    today = gate.now.date()
    stmt = visible_participants(gate.caller, gate.now).where(
        Participant.phase != Phase.ended,
        col(Participant.intervention_end) >= today,
        col(Participant.intervention_end) <= today + timedelta(days=within_days),
    )

    def plan_visible(rows: list[Participant]) -> list[Participant]:
        gate.prefetch([r.id for r in rows], [r.source_org_id for r in rows])
        return [r for r in rows if gate.decide(r.id, Category.plan, r.source_org_id).allowed]

    rows, cursor = paginate_kept(
        gate.session, stmt, [Participant.intervention_end, Participant.id], paging, plan_visible
    )
    out = []
    for row in rows:
        view = ending(gate, row)
        if view.intervention_end is None or view.days_to_end is None:
            continue
        out.append(
            UpcomingEnding(
                participant_id=row.id,
                intervention_end=view.intervention_end,
                days_to_end=view.days_to_end,
                open_items=view.open_items,
            )
        )
    return out, cursor
