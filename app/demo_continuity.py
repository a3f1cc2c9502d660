"""Synthetic demo of continuity after the gate: Casey was released three weeks ago, was met
at the gate by the peer mentor, missed the first community mental-health appointment, and
has a phone-call note (with an attached letter) from the coordinator. The engagement scan
then leaves the coordinator's notices. Everything is invented.
"""

import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, col, select

from app.models.appointment import Appointment, AppointmentKind, Attendance
from app.models.documents import Document, DocumentContent, MediaType, ScanStatus
from app.models.notes import CaseNote, CaseNoteVersion, NoteKind
from app.models.organisation import Organisation, OrgKind, User
from app.models.participant import Participant, Phase
from app.models.referral import Referral, ReferralAmendment, ReferralStatus
from app.models.sharing import LawfulBasis, SharingProtocol
from app.sharing.categories import Category, Purpose

LETTER = (
    b"Northtown Care Coordination (synthetic demo)\n\n"
    b"Licence conditions as read out at the gate meeting:\n"
    b"1. Reside at the approved address.\n"
    b"2. Keep appointments with the community mental health team.\n"
)


def _kind(orgs: dict[str, Organisation], kind: OrgKind) -> Organisation:
    return next(o for o in orgs.values() if o.kind == kind)


def seed_continuity(
    session: Session,
    orgs: dict[str, Organisation],
    users: dict[str, User],
    participants: list[Participant],
) -> None:
    """Release the community participant and record their first weeks outside."""
    from app.services.engagement_notices import scan

    released = [p for p in participants if p.phase == Phase.community]
    if not released:
        return
    person = released[0]
    coord = _kind(orgs, OrgKind.care_coordination)
    cmht = _kind(orgs, OrgKind.community_mental_health)
    person.actual_release_date = person.expected_release_date or (
        datetime.now(UTC).date() - timedelta(days=20)
    )
    session.add(person)
    # The CMHT tells coordination whether appointments were kept (closing the loop).
    session.add(
        SharingProtocol(
            protocol_id=uuid.uuid4(),
            version=1,
            is_current=True,
            created_by="demo",
            name="Engagement feedback to coordination",
            source_org_kind=OrgKind.community_mental_health,
            recipient_org_kind=OrgKind.care_coordination,
            categories=[Category.appointments],
            purposes=[Purpose.direct_care],
            lawful_basis=LawfulBasis.public_task,
            effective_from=date(2026, 1, 1),
            approved_by="Northtown Information Governance Board (synthetic)",
        )
    )
    release_day = datetime.combine(person.actual_release_date, datetime.min.time(), UTC)
    for appointment in session.exec(
        select(Appointment).where(
            Appointment.participant_id == person.id,
            col(Appointment.starts_at) >= release_day,
            col(Appointment.starts_at) < release_day + timedelta(days=7),
        )
    ).all():
        # The peer mentor met them at the gate; the CMHT assessment was not attended.
        if appointment.kind == AppointmentKind.gate_meeting:
            appointment.attendance = Attendance.attended
        elif appointment.source_org_id == cmht.id:
            appointment.attendance = Attendance.did_not_attend
        session.add(appointment)
    author = f"user:{users['coordinator'].id}" if "coordinator" in users else "demo"
    note = CaseNote(
        participant_id=person.id,
        source_org_id=coord.id,
        kind=NoteKind.phone_call,
        category=Category.plan,
        occurred_on=person.actual_release_date + timedelta(days=1),
        text="Phoned the day after release: settling in at the approved address; reminded "
        "about the mental-health assessment tomorrow.",
        author=author,
    )
    session.add(note)
    session.flush()
    session.add(
        CaseNoteVersion(
            note_id=note.id,
            version=1,
            kind=note.kind,
            category=note.category,
            occurred_on=note.occurred_on,
            text=note.text,
            written_by=author,
            written_at=note.updated_at,
        )
    )
    document = Document(
        participant_id=person.id,
        source_org_id=coord.id,
        note_id=note.id,
        category=Category.plan,
        filename="licence-conditions.txt",
        media_type=MediaType.text,
        size_bytes=len(LETTER),
        sha256=hashlib.sha256(LETTER).hexdigest(),
        scan_status=ScanStatus.clean,
        uploaded_by=author,
    )
    session.add(document)
    session.flush()
    session.add(DocumentContent(document_id=document.id, content=LETTER))
    session.flush()
    _referral_letter(session, person, coord, author)
    scan(session)


REFERRAL_LETTER = (
    b"Referral letter (synthetic demo data).\n"
    b"Casey is settling at the approved address and would like support with housing.\n"
)


def _referral_letter(
    session: Session, person: Participant, coord: Organisation, author: str
) -> None:
    """A referral letter on the person's open referral from coordination, and the referral
    amended after it was sent (its change log)."""
    referral = session.exec(
        select(Referral)
        .where(
            Referral.participant_id == person.id,
            Referral.from_org_id == coord.id,
            col(Referral.status).in_(
                [ReferralStatus.submitted, ReferralStatus.accepted, ReferralStatus.in_progress]
            ),
        )
        .order_by(col(Referral.created_at))
    ).first()
    if referral is None:
        return
    letter = Document(
        participant_id=person.id,
        source_org_id=coord.id,
        referral_id=referral.id,
        category=Category.referrals,
        filename="referral-letter.txt",
        media_type=MediaType.text,
        size_bytes=len(REFERRAL_LETTER),
        sha256=hashlib.sha256(REFERRAL_LETTER).hexdigest(),
        scan_status=ScanStatus.clean,
        uploaded_by=author,
    )
    session.add(letter)
    session.flush()
    session.add(DocumentContent(document_id=letter.id, content=REFERRAL_LETTER))
    wanted = (person.actual_release_date or date.today()) + timedelta(days=7)
    if referral.requested_by_date != wanted:
        referral.version += 1
        session.add(
            ReferralAmendment(
                referral_id=referral.id,
                version=referral.version,
                field="requested_by_date",
                old_value=referral.requested_by_date.isoformat()
                if referral.requested_by_date
                else None,
                new_value=wanted.isoformat(),
                actor=author,
                actor_org_id=coord.id,
                reason="Released earlier than planned: needed within a week (synthetic).",
            )
        )
        referral.requested_by_date = wanted
        session.add(referral)
    session.flush()
