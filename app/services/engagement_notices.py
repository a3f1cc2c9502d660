"""Engagement notices to the lead organisation, raised at most once each.

A notice is raised from the lead organisation's own view of engagement (worked out
through its gate), so it never tells the lead more than the sharing decision lets it
know: a service whose evidence is withheld from the lead (`unknown`) raises nothing.
Each notice has a ledger row unique per (participant, service, trigger, release date):
a second scan, a read, or two scans at once cannot raise it twice.
"""

import uuid
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.auth.caller import Caller
from app.models.base import utcnow
from app.models.engagement import Engagement, EngagementNotice, EngagementState
from app.models.notice import Notice
from app.models.organisation import Organisation, Role
from app.models.participant import Participant, Phase
from app.services.engagement import engagement, notice_days
from app.services.outbox import emit
from app.sharing.gate import SharingGate
from app.sharing.visibility import lead_org_ids

SCAN_SUBJECT = "system:engagement-scan"
NO_CONTACT = frozenset(
    {
        EngagementState.first_appointment_missed,
        EngagementState.no_contact_yet,
        EngagementState.not_yet_due,
    }
)


def _triggers(view: Engagement) -> list[tuple[uuid.UUID, str, str]]:
    """(service, trigger, message) of every notice the view calls for."""
    out = []
    days = view.days_since_release or 0
    for svc in view.services:
        name = svc.organisation_name or "a service"
        if svc.state == EngagementState.first_appointment_missed:
            out.append(
                (
                    svc.organisation_id,
                    "first_appointment_missed",
                    f"First appointment with {name} since release was missed.",
                )
            )
        if svc.state in NO_CONTACT:
            for day in notice_days():
                if days >= day:
                    out.append(
                        (
                            svc.organisation_id,
                            f"no_contact_day_{day}",
                            f"No contact with {name} by day {day} after release.",
                        )
                    )
    return out


def already_raised(
    session: Session, view: Engagement, service_org_id: uuid.UUID, trigger: str
) -> bool:
    """Whether the ledger already holds this notice (the common case: no insert tried)."""
    found = session.exec(
        select(EngagementNotice.id).where(
            EngagementNotice.participant_id == view.participant_id,
            EngagementNotice.service_org_id == service_org_id,
            EngagementNotice.trigger == trigger,
            EngagementNotice.release_date == view.release_date,
        )
    ).first()
    return found is not None


def raise_notices(gate: SharingGate, view: Engagement) -> int:
    """Raise the notices `view` (the lead organisation's: the gate's caller) calls for, each
    with an `engagement.*` event for that organisation alone; how many were new."""
    session, lead_org_id = gate.session, gate.caller.org_id
    if view.release_date is None:
        return 0
    raised = 0
    for service_org_id, trigger, message in _triggers(view):
        if already_raised(session, view, service_org_id, trigger):
            continue
        try:
            with session.begin_nested():
                notice = Notice(
                    organisation_id=lead_org_id,
                    kind=f"engagement_{trigger.split('_day_')[0]}",
                    participant_id=view.participant_id,
                    subject_id=f"{service_org_id}:{trigger}",
                    message=message,
                )
                session.add(notice)
                session.flush()
                session.add(
                    EngagementNotice(
                        participant_id=view.participant_id,
                        service_org_id=service_org_id,
                        trigger=trigger,
                        release_date=view.release_date,
                        notice_id=notice.id,
                    )
                )
                session.flush()
                emit(
                    gate,
                    f"engagement.{trigger.split('_day_')[0]}",
                    view.participant_id,
                    {"notice_id": notice.id, "service_org_id": service_org_id},
                    source_org_id=lead_org_id,
                    parties=[lead_org_id],
                )
        except IntegrityError:
            continue  # raised meanwhile by a concurrent scan or read
        raised += 1
    return raised


def notices_on_read(gate: SharingGate, view: Engagement) -> None:
    """A read by the lead organisation raises what its view calls for (as the scan would)."""
    if gate.caller.is_participant or view.release_date is None:
        return
    if gate.caller.org_id in lead_org_ids(gate.session, view.participant_id, gate.now):
        raise_notices(gate, view)


def _scan_caller(org: Organisation) -> Caller:
    return Caller(
        subject=SCAN_SUBJECT,
        token_type="system",
        org_id=org.id,
        org_kind=org.kind,
        role=Role.practitioner,
        scopes=frozenset(),
        token_id="engagement-scan",
        request_id="engagement-scan",
    )


def scan(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Work out every released participant's engagement as their lead organisation sees it
    and raise the notices due; safe to run as often as liked (cron, or after a restart)."""
    people = session.exec(
        select(Participant).where(
            Participant.phase == Phase.community,
            col(Participant.actual_release_date).is_not(None),
        )
    ).all()
    moment = now or utcnow()
    counts = {"participants": 0, "notices": 0}
    for person in people:
        for lead_id in lead_org_ids(session, person.id, moment):
            org = session.get(Organisation, lead_id)
            if org is None:
                continue
            gate = SharingGate(session, _scan_caller(org), moment)
            with gate.auditing():
                view = engagement(gate, person)
                counts["notices"] += raise_notices(gate, view)
            counts["participants"] += 1
    return counts
