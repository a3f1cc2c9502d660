"""Appointments: recorded, clash-checked per participant, attendance and follow-up.

Every appointment is a whole record of category `appointments`; lists go through the
gate row by row. A clash is refused (409) only when the caller may see the other
appointment; a clash with appointments it may not see is booked like no clash at all, and
the lead organisation gets a notice naming both ids.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_
from sqlmodel import col, select

from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.etags import check_if_match
from app.core.pagination import PageParams, paginate
from app.models.appointment import (
    Appointment,
    AppointmentCreate,
    AppointmentRead,
    AppointmentUpdate,
    Attendance,
)
from app.models.base import utcnow
from app.models.listing import RecordPage
from app.models.notice import Notice
from app.models.organisation import Organisation
from app.services.plan import merge_withheld
from app.services.record_pages import gated_record_page
from app.sharing import policy
from app.sharing.categories import Category
from app.sharing.gate import SharingGate, WithheldCount
from app.sharing.visibility import lead_org_ids, visible_participant_ids

REMINDER_WINDOW = timedelta(hours=48)


class AppointmentClash(Conflict):
    """A new or moved appointment overlaps another of the same participant."""


def _source(a: Appointment) -> uuid.UUID:
    return a.source_org_id


def _clashes(
    gate: SharingGate,
    participant_id: uuid.UUID,
    starts: datetime,
    ends: datetime,
    exclude: uuid.UUID | None,
) -> list[Appointment]:
    """409 naming the overlapping appointments the caller may see; otherwise the ones it
    may not see (the booking goes ahead: the caller must not learn they exist)."""
    stmt = select(Appointment).where(
        Appointment.participant_id == participant_id,
        col(Appointment.starts_at) < ends,
        col(Appointment.ends_at) > starts,
        or_(
            col(Appointment.attendance).is_(None),
            col(Appointment.attendance) != Attendance.cancelled,
        ),
    )
    if exclude is not None:
        stmt = stmt.where(Appointment.id != exclude)
    rows = gate.session.exec(stmt.order_by(col(Appointment.starts_at))).all()
    if not rows:
        return []
    shown, _withheld = gate.filter_records(
        participant_id,
        rows,
        Category.appointments,
        _source,
        resource="appointment",
        action="clash_check",
    )
    if not shown:
        return list(rows)
    # Only the visible clashes: a count of hidden ones would tell where they are.
    clashes: list[dict[str, Any]] = [
        {
            "id": str(a.id),
            "kind": str(a.kind),
            "starts_at": a.starts_at.isoformat(),
            "ends_at": a.ends_at.isoformat(),
        }
        for a in shown
    ]
    raise AppointmentClash(
        f"The time overlaps {len(shown)} appointment(s) you can see.",
        extensions={"clashes": clashes},
    )


def _notify_hidden_clashes(
    gate: SharingGate, appointment: Appointment, hidden: Sequence[Appointment]
) -> None:
    """Tell the lead organisation of clashes the booking organisation could not be shown,
    so a practitioner who may see both resolves them (ids only: no times, places, kinds)."""
    leads = lead_org_ids(gate.session, appointment.participant_id, gate.now)
    for other in hidden:
        for org_id in leads:
            gate.session.add(
                Notice(
                    organisation_id=org_id,
                    kind="appointment_clash",
                    participant_id=appointment.participant_id,
                    subject_id=str(appointment.id),
                    message=(
                        f"Appointment {appointment.id} overlaps appointment {other.id} of the "
                        "same participant. Someone who may see both should resolve it."
                    ),
                    created_at=gate.now,
                )
            )


def list_appointments(
    gate: SharingGate,
    participant_id: uuid.UUID,
    paging: PageParams,
    include_cancelled: bool = True,
) -> RecordPage[AppointmentRead]:
    """The participant's appointments the caller may see, latest first."""
    gate.participant(participant_id, action="list", resource="appointment")
    filters = (
        []
        if include_cancelled
        else [
            or_(
                col(Appointment.attendance).is_(None),
                col(Appointment.attendance) != Attendance.cancelled,
            )
        ]
    )
    shown, cursor, withheld = gated_record_page(
        gate,
        participant_id,
        Appointment,
        Category.appointments,
        [Appointment.starts_at, Appointment.id],
        paging,
        resource="appointment",
        filters=filters,
    )
    return RecordPage(
        items=[AppointmentRead.model_validate(a) for a in shown],
        next_cursor=cursor,
        withheld=withheld,
    )


def _check_with_org(gate: SharingGate, org_id: uuid.UUID | None) -> None:
    if org_id is not None:
        org = gate.session.get(Organisation, org_id)
        if org is None or not org.active:
            raise Unprocessable("with_org_id is not an active organisation.")


def create_appointment(
    gate: SharingGate, participant_id: uuid.UUID, data: AppointmentCreate
) -> AppointmentRead:
    """Book an appointment; 409 naming the clash when it overlaps one the caller may see."""
    gate.participant(participant_id, action="create", resource="appointment")
    staff = policy.may_do_staff_work(gate.actor, policy.Work.book_appointment)
    gate.authorize(staff, "create", "appointment", participant_id)
    _check_with_org(gate, data.with_org_id)
    hidden = _clashes(gate, participant_id, data.starts_at, data.ends_at, None)
    appointment = Appointment(
        **data.model_dump(),
        participant_id=participant_id,
        source_org_id=gate.caller.org_id,
        created_by=gate.caller.subject,
    )
    gate.session.add(appointment)
    gate.session.flush()
    _notify_hidden_clashes(gate, appointment, hidden)
    gate.wrote(
        participant_id,
        [Category.appointments],
        action="create",
        resource="appointment",
        resource_id=str(appointment.id),
    )
    return AppointmentRead.model_validate(appointment)


def update_appointment(
    gate: SharingGate,
    participant_id: uuid.UUID,
    appointment_id: uuid.UUID,
    data: AppointmentUpdate,
    if_match: str | None,
) -> AppointmentRead:
    """Move, annotate, cancel or record attendance; the booking or hosting org only."""
    gate.participant(participant_id, action="update", resource="appointment")
    appointment = gate.session.exec(
        select(Appointment)
        .where(Appointment.id == appointment_id, Appointment.participant_id == participant_id)
        .with_for_update()
    ).first()
    if appointment is None:
        raise NotFound("No such record.")
    gate.require(
        participant_id,
        Category.appointments,
        appointment.source_org_id,
        action="update",
        resource="appointment",
        resource_id=str(appointment.id),
    )
    may_update = policy.may_update_appointment(
        gate.actor, source_org_id=appointment.source_org_id, with_org_id=appointment.with_org_id
    )
    gate.authorize(
        may_update, "update", "appointment", participant_id, resource_id=str(appointment.id)
    )
    if if_match:
        check_if_match(if_match, "appointment", appointment.version)
    changes = data.model_dump(exclude_unset=True)
    if not changes:
        raise Unprocessable("The request changes nothing.")
    if any(changes.get(k, "") is None for k in ("kind", "starts_at", "ends_at")):
        raise Unprocessable("kind, starts_at and ends_at cannot be null.")
    starts = changes.get("starts_at", appointment.starts_at)
    ends = changes.get("ends_at", appointment.ends_at)
    if ends <= starts:
        raise Unprocessable("ends_at is not after starts_at.")
    attendance = changes.get("attendance", appointment.attendance)
    if attendance == Attendance.cancelled and not changes.get(
        "cancel_reason", appointment.cancel_reason
    ):
        raise Unprocessable("Say why the appointment was cancelled (cancel_reason).")
    if attendance in {Attendance.attended, Attendance.did_not_attend} and starts > gate.now:
        raise Unprocessable("Attendance is recorded once the appointment has started.")
    moved = {"starts_at", "ends_at"} & set(changes) or (
        appointment.attendance == Attendance.cancelled and "attendance" in changes
    )
    hidden: list[Appointment] = []
    if moved and attendance != Attendance.cancelled:
        hidden = _clashes(gate, participant_id, starts, ends, appointment.id)
    if changes.pop("reminder_sent", None):
        appointment.reminded_at = utcnow()
    if changes.get("follow_up_note"):
        appointment.followed_up_at = utcnow()
    for name, value in changes.items():
        setattr(appointment, name, value)
    appointment.version += 1
    appointment.updated_at = utcnow()
    gate.session.add(appointment)
    _notify_hidden_clashes(gate, appointment, hidden)
    gate.session.flush()
    gate.wrote(
        participant_id,
        [Category.appointments],
        action="update",
        resource="appointment",
        resource_id=str(appointment.id),
    )
    return AppointmentRead.model_validate(appointment)


def _org_worklist(
    gate: SharingGate, where: Sequence[Any], paging: PageParams, descending: bool
) -> RecordPage[AppointmentRead]:
    """Appointments booked by or held with the caller's organisation, through the gate."""
    caller = gate.caller
    gate.authorize(
        policy.may_do_staff_work(gate.actor, policy.Work.read_worklists), "list", "appointment"
    )
    stmt = select(Appointment).where(
        or_(
            col(Appointment.source_org_id) == caller.org_id,
            col(Appointment.with_org_id) == caller.org_id,
        ),
        col(Appointment.participant_id).in_(visible_participant_ids(caller, gate.now)),
        *where,
    )
    rows, cursor = paginate(
        gate.session,
        stmt,
        [Appointment.starts_at, Appointment.id],
        paging,
        descending=descending,
    )
    gate.prefetch({a.participant_id for a in rows}, {a.source_org_id for a in rows})
    by_participant: dict[uuid.UUID, list[Appointment]] = {}
    for row in rows:
        by_participant.setdefault(row.participant_id, []).append(row)
    shown_ids: set[uuid.UUID] = set()
    withheld: list[WithheldCount] = []
    for pid, group in by_participant.items():
        shown, hidden = gate.filter_records(
            pid, group, Category.appointments, _source, resource="appointment", action="list"
        )
        shown_ids.update(a.id for a in shown)
        withheld.extend(hidden)
    return RecordPage(
        items=[AppointmentRead.model_validate(a) for a in rows if a.id in shown_ids],
        next_cursor=cursor,
        withheld=merge_withheld(withheld),
    )


def reminders_due(gate: SharingGate, paging: PageParams) -> RecordPage[AppointmentRead]:
    """Appointments in the next 48 hours not yet reminded, for the caller's organisation."""
    return _org_worklist(
        gate,
        [
            col(Appointment.starts_at) >= gate.now,
            col(Appointment.starts_at) <= gate.now + REMINDER_WINDOW,
            col(Appointment.attendance).is_(None),
            col(Appointment.reminded_at).is_(None),
        ],
        paging,
        descending=False,
    )


def missed_without_follow_up(gate: SharingGate, paging: PageParams) -> RecordPage[AppointmentRead]:
    """Did-not-attend appointments nobody has followed up, for the caller's organisation."""
    return _org_worklist(
        gate,
        [
            Appointment.attendance == Attendance.did_not_attend,
            col(Appointment.followed_up_at).is_(None),
        ],
        paging,
        descending=True,
    )
