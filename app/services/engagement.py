"""Engagement after release: for each community service the person should now be in touch
with (an accepted referral's recipient, or a community care-team organisation), whether
they have been: worked out from the record, through the gate, as the caller may know it.

Per service, from the release date (day 0) on:
- `engaged`: an attended appointment with the service, a contact, meeting or phone-call
  note written by it, or a "first contact made"/"attended" milestone it recorded on a
  referral to it;
- otherwise `unknown` when some of that evidence is withheld from the caller (the most
  informative answer wins, as in release readiness: engaged > unknown > the rest);
- otherwise `first_appointment_missed` when an appointment with it was not attended (or it
  recorded a "did not attend" milestone);
- otherwise `not_yet_due` while a first appointment is booked ahead or it is earlier than
  the first notice day; `no_contact_yet` after that.
The participant's state is the most urgent of their services' states.
"""

import uuid
from datetime import UTC, date, datetime, time

from sqlalchemy import and_, or_
from sqlmodel import col, select

from app.core.settings import get_settings
from app.models.appointment import Appointment, Attendance
from app.models.engagement import Engagement, EngagementState, ServiceEngagement
from app.models.notes import CaseNote, NoteKind
from app.models.organisation import Organisation, OrgKind
from app.models.participant import CareTeamMember, Participant, Phase, Withheld
from app.models.referral import Referral, ReferralStatus
from app.models.referral_milestones import MilestoneKind, ReferralMilestone
from app.sharing.categories import Category
from app.sharing.decision import Deny
from app.sharing.gate import SharingGate
from app.sharing.visibility import membership_in_force

RESOURCE = "engagement"
ACCEPTED = (ReferralStatus.accepted, ReferralStatus.in_progress, ReferralStatus.completed)
CONTACT_NOTES = (NoteKind.contact, NoteKind.meeting, NoteKind.phone_call)
CONTACT_MILESTONES = (MilestoneKind.first_contact_made, MilestoneKind.attended)
# Organisations inside the prison are not "services after the gate".
NOT_COMMUNITY = frozenset({OrgKind.prison_healthcare})
# Most urgent first: the participant's state is the first of its services' states here.
URGENCY = (
    EngagementState.first_appointment_missed,
    EngagementState.no_contact_yet,
    EngagementState.unknown,
    EngagementState.not_yet_due,
    EngagementState.engaged,
)


def notice_days() -> list[int]:
    """The days after release on which no contact raises a notice (settings)."""
    return sorted(set(get_settings().engagement_notice_days))


def release_date_of(gate: SharingGate, participant: Participant) -> tuple[date | None, str | None]:
    """The actual release date if the caller may see custody details, else the reason."""
    decision = gate.decide(participant.id, Category.custody, participant.source_org_id)
    if isinstance(decision, Deny):
        return None, decision.reason
    gate.disclosed(
        participant.id, Category.custody, decision.basis, action="read", resource=RESOURCE
    )
    if participant.phase != Phase.community:
        return None, None
    return participant.actual_release_date, None


def _services(
    gate: SharingGate, participant: Participant
) -> tuple[dict[uuid.UUID, set[str]], list[Withheld]]:
    """Community organisations to track, and why; the categories withheld on the way."""
    pid = participant.id
    withheld: list[Withheld] = []
    referrals = gate.session.exec(
        select(Referral).where(
            Referral.participant_id == pid, col(Referral.status).in_(list(ACCEPTED))
        )
    ).all()
    shown_refs, hidden = gate.filter_records(
        pid, referrals, Category.referrals, lambda r: r.from_org_id, resource=RESOURCE
    )
    if hidden:
        withheld.append(Withheld(category=Category.referrals, reason=hidden[0].reason))
    members = gate.session.exec(
        select(CareTeamMember).where(
            CareTeamMember.participant_id == pid, membership_in_force(gate.now)
        )
    ).all()
    shown_members, hidden = gate.filter_records(
        pid, members, Category.plan, lambda m: m.source_org_id, resource=RESOURCE
    )
    if hidden:
        withheld.append(Withheld(category=Category.plan, reason=hidden[0].reason))
    why: dict[uuid.UUID, set[str]] = {}
    for ref in shown_refs:
        why.setdefault(ref.to_org_id, set()).add("referral")
    for member in shown_members:
        why.setdefault(member.organisation_id, set()).add("care_team")
    return why, withheld


def _org_rows(gate: SharingGate, ids: list[uuid.UUID]) -> dict[uuid.UUID, Organisation]:
    if not ids:
        return {}
    rows = gate.session.exec(select(Organisation).where(col(Organisation.id).in_(ids))).all()
    return {o.id: o for o in rows}


def _milestones(
    gate: SharingGate, participant_id: uuid.UUID, org_id: uuid.UUID, release_date: date
) -> tuple[list[ReferralMilestone], list[str]]:
    """Milestones the service recorded on referrals to it since release (as the referral
    record of the referrer), and the reasons for any withheld."""
    rows = gate.session.exec(
        select(ReferralMilestone, Referral.from_org_id)
        .join(Referral, col(Referral.id) == ReferralMilestone.referral_id)
        .where(
            ReferralMilestone.participant_id == participant_id,
            Referral.to_org_id == org_id,
            col(ReferralMilestone.occurred_on) >= release_date,
        )
        .order_by(col(ReferralMilestone.occurred_on), col(ReferralMilestone.id))
    ).all()
    shown, hidden = gate.filter_records(
        participant_id, list(rows), Category.referrals, lambda r: r[1], resource=RESOURCE
    )
    return [m for m, _ in shown], [w.reason for w in hidden]


def _service(
    gate: SharingGate,
    participant: Participant,
    org: Organisation,
    why: set[str],
    release_date: date,
    days: int,
) -> ServiceEngagement:
    pid = participant.id
    since = datetime.combine(release_date, time.min, tzinfo=UTC)
    appointments = gate.session.exec(
        select(Appointment)
        .where(
            Appointment.participant_id == pid,
            col(Appointment.starts_at) >= since,
            or_(
                col(Appointment.with_org_id) == org.id,
                and_(
                    col(Appointment.with_org_id).is_(None),
                    col(Appointment.source_org_id) == org.id,
                ),
            ),
        )
        .order_by(col(Appointment.starts_at), col(Appointment.id))
    ).all()
    shown, hidden_appts = gate.filter_records(
        pid, appointments, Category.appointments, lambda a: a.source_org_id, resource=RESOURCE
    )
    notes = gate.session.exec(
        select(CaseNote)
        .where(
            CaseNote.participant_id == pid,
            CaseNote.source_org_id == org.id,
            col(CaseNote.kind).in_(list(CONTACT_NOTES)),
            col(CaseNote.occurred_on) >= release_date,
        )
        .order_by(col(CaseNote.occurred_on), col(CaseNote.id))
    ).all()
    shown_notes: list[CaseNote] = []
    hidden_reasons = [w.reason for w in hidden_appts]
    for category in sorted({n.category for n in notes}):
        kept, hidden = gate.filter_records(
            pid,
            [n for n in notes if n.category == category],
            category,
            lambda n: n.source_org_id,
            resource=RESOURCE,
        )
        shown_notes += kept
        hidden_reasons += [w.reason for w in hidden]
    milestones, hidden_milestones = _milestones(gate, pid, org.id, release_date)
    hidden_reasons += hidden_milestones
    out = ServiceEngagement(
        organisation_id=org.id,
        organisation_name=org.name,
        why=sorted(why),
        state=EngagementState.not_yet_due,
    )
    booked = [a for a in shown if a.attendance != Attendance.cancelled]
    if booked:
        out.first_appointment_id, out.first_appointment_at = booked[0].id, booked[0].starts_at
    attended = [a for a in booked if a.attendance == Attendance.attended]
    contacts = [m for m in milestones if m.kind in CONTACT_MILESTONES]
    if attended or shown_notes or contacts:
        out.state = EngagementState.engaged
        out.evidence_ids = [str(a.id) for a in attended] + [str(n.id) for n in shown_notes]
        out.evidence_ids += [str(m.id) for m in contacts]
        return out
    if hidden_reasons:
        out.state = EngagementState.unknown
        out.note = f"Evidence withheld ({sorted(set(hidden_reasons))[0]})."
        return out
    missed = [str(a.id) for a in booked if a.attendance == Attendance.did_not_attend]
    missed += [str(m.id) for m in milestones if m.kind == MilestoneKind.did_not_attend]
    if missed:
        out.state = EngagementState.first_appointment_missed
        out.evidence_ids = [missed[0]]
        out.note = "An appointment since release was not attended; no contact since."
        return out
    first_day = notice_days()[0] if notice_days() else 0
    ahead = [a for a in booked if a.starts_at > gate.now]
    if ahead:
        out.evidence_ids = [str(ahead[0].id)]
        out.note = "A first appointment is booked."
    elif days < first_day:
        out.note = f"Day {days} since release: contact is expected by day {first_day}."
    else:
        out.state = EngagementState.no_contact_yet
        unrecorded = [a for a in booked if a.attendance is None]
        out.note = (
            "No contact since release; attendance of a past appointment is not recorded."
            if unrecorded
            else "No contact since release and no appointment booked."
        )
    return out


def engagement(gate: SharingGate, participant: Participant) -> Engagement:
    """How the person's engagement with community services is going, as the caller may know."""
    release_date, custody_withheld = release_date_of(gate, participant)
    if custody_withheld:
        return Engagement(
            participant_id=participant.id,
            state=EngagementState.unknown,
            note="The release date is withheld.",
            withheld=[Withheld(category=Category.custody, reason=custody_withheld)],
        )
    if release_date is None or release_date > gate.now.date():
        return Engagement(participant_id=participant.id, state=EngagementState.not_released)
    days = (gate.now.date() - release_date).days
    why, withheld = _services(gate, participant)
    orgs = _org_rows(gate, sorted(why, key=str))
    services = [
        _service(gate, participant, orgs[org_id], why[org_id], release_date, days)
        for org_id in sorted(why, key=lambda o: (orgs[o].name, str(o)))
        if orgs[org_id].kind not in NOT_COMMUNITY
    ]
    states = {s.state for s in services}
    note = None
    if not services:
        note = "No community service to track: no accepted referral or care-team organisation."
        state = EngagementState.unknown if withheld else EngagementState.no_contact_yet
        if not withheld and days < (notice_days() or [0])[0]:
            state = EngagementState.not_yet_due
    else:
        state = next(s for s in URGENCY if s in states)
    return Engagement(
        participant_id=participant.id,
        state=state,
        release_date=release_date,
        days_since_release=days,
        services=services,
        note=note,
        withheld=withheld,
    )
