"""Statistics of care for commissioners: times, readiness at release, engagement, attendance.

Each figure is one SQL query; no row is loaded into Python. Figures over people or
referrals join each evidence table once (per-person flags or first dates, then one count)
rather than probe it per person (see the note above readiness_at_release). The per-person
rules (app/services/release_readiness.py, engagement.py) are followed as far as SQL can
without the sharing decision (a commissioner sees counts of everything); where they are
approximated, docs/governance.md says how.
"""

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, and_, case, cast, exists, func, literal, or_, select, union_all
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from app.models.appointment import Appointment, AppointmentKind, Attendance
from app.models.directory import Service
from app.models.notes import CaseNote, NoteKind
from app.models.organisation import Organisation, OrgKind
from app.models.participant import Participant
from app.models.plan import Action, ActionStatus, Goal, LifeDomain
from app.models.referral import Referral, ReferralStatus, ReferralTransition
from app.models.referral_milestones import MilestoneKind, ReferralMilestone
from app.models.sharing import Consent
from app.services import statistics_sql as sq
from app.services.statistics_core import Scope, submitted_in, suppress

ACCEPTED = (ReferralStatus.accepted, ReferralStatus.in_progress, ReferralStatus.completed)
ENGAGEMENT_DAYS = (7, 28)
CONTACT_NOTES = (NoteKind.contact, NoteKind.meeting, NoteKind.phone_call)
CONTACT_MILESTONES = (MilestoneKind.first_contact_made, MilestoneKind.attended)
# The per-person rules' words (care_record_evidence.py), matched as substrings in SQL.
MEDICATION_LIKE = ("%medication%", "%medicine%", "%meds%", "%prescri%", "%pharmac%")
REPORTING_LIKE = "%reporting instruction%"
REPORTING_WINDOW_DAYS = 7


def _median(session: Session, values: Any, threshold: int) -> dict[str, Any]:
    n, mid = sq.median(session, values)
    hidden = n < threshold
    return {"median_days": None if hidden or mid is None else round(mid, 2), "suppressed": hidden}


def median_days_to_accept(session: Session, scope: Scope, threshold: int) -> dict[str, Any]:
    """Median days from submission to (first) acceptance, of referrals submitted in the
    range to the organisations filtered; suppressed when fewer than the threshold."""
    values = (
        select(
            sq.days_between(
                session, func.min(col(ReferralTransition.at)), col(Referral.submitted_at)
            )
        )
        .join(
            ReferralTransition,
            and_(
                col(ReferralTransition.referral_id) == Referral.id,
                col(ReferralTransition.to_status) == ReferralStatus.accepted,
            ),
        )
        .where(*submitted_in(scope))
        .group_by(col(Referral.id), col(Referral.submitted_at))
    )
    return _median(session, values, threshold)


def median_days_to_first_contact(session: Session, scope: Scope, threshold: int) -> dict[str, Any]:
    """Median days from submission to the recipient's "first contact made" milestone."""
    values = (
        select(
            sq.days_from_stamp_to_date(
                session, func.min(col(ReferralMilestone.occurred_on)), col(Referral.submitted_at)
            )
        )
        .select_from(Referral)
        .join(
            ReferralMilestone,
            and_(
                col(ReferralMilestone.referral_id) == Referral.id,
                col(ReferralMilestone.kind) == MilestoneKind.first_contact_made,
            ),
        )
        .where(*submitted_in(scope))
        .group_by(col(Referral.id), col(Referral.submitted_at))
    )
    return _median(session, values, threshold)


def _released(scope: Scope) -> list[Any]:
    return [
        col(Participant.actual_release_date) >= scope.start,
        col(Participant.actual_release_date) <= scope.end,
        *scope.org(col(Participant.source_org_id)),
    ]


def _end_of_release_day(session: Session, people: Any) -> Any:
    """Evidence counts when recorded before this day: the day after release (UTC)."""
    return sq.date_plus_days(session, people.c.released, 1)


def _json_has(column: Any, value: str) -> Any:
    # JSON lists written by one serializer (json.dumps) on both backends.
    return cast(column, String).like(f'%"{value}"%')


# Readiness is counted in one pass over each evidence table: the people released in the
# range (a CTE) are joined to their accepted referrals, done plan actions, appointments
# and consents; each join yields, per person, a 0/1 flag for every item that kind of
# evidence can meet (max over the rows); the flags meet the people in one final count.
# The first form (a correlated EXISTS per item per person) took 11 s for a year at 1M
# people on PostgreSQL; one join per item (UNION ALL), 14 s: the four referral items
# scanned the referrals four times.


def _flag(condition: Any, name: str) -> Any:
    return func.max(case((condition, 1), else_=0)).label(name)


def _released_people(scope: Scope) -> Any:
    return (
        select(
            col(Participant.id).label("pid"),
            col(Participant.actual_release_date).label("released"),
            or_(
                col(Participant.phone).is_not(None),
                col(Participant.address).is_not(None),
                col(Participant.email).is_not(None),
            ).label("has_contact"),
        )
        .where(*_released(scope))
        .cte("released")
    )


def _referral_flags(session: Session, people: Any) -> Any:
    """Per person: an accepted referral, accepted by the end of the release day, to an
    organisation of the item's kind or a directory service offering its category."""
    cutoff = _end_of_release_day(session, people)
    to_org = aliased(Organisation)

    def about(kinds: tuple[str, ...], categories: tuple[str, ...]) -> Any:
        of_kind = [col(to_org.kind).in_(kinds)] if kinds else []
        return or_(*of_kind, *[_json_has(col(Service.categories), c) for c in categories])

    accepted_by_release = (
        exists()
        .where(
            col(ReferralTransition.referral_id) == col(Referral.id),
            col(ReferralTransition.to_status) == ReferralStatus.accepted,
            sq.utc_date(session, col(ReferralTransition.at)) < cutoff,
        )
        .correlate(Referral, people)
    )
    return (
        select(
            people.c.pid,
            _flag(about((OrgKind.housing,), ("housing",)), "accommodation"),
            _flag(about((OrgKind.primary_care,), ("primary_care",)), "gp_registration"),
            _flag(
                about(
                    (OrgKind.community_mental_health, OrgKind.substance_misuse),
                    ("mental_health", "substance_misuse"),
                ),
                "community_treatment",
            ),
            _flag(about((), ("benefits",)), "benefits_claim"),
        )
        .join(Referral, col(Referral.participant_id) == people.c.pid)
        .join(to_org, col(to_org.id) == Referral.to_org_id)
        .outerjoin(Service, col(Service.id) == Referral.service_id)
        .where(col(Referral.status).in_(ACCEPTED), accepted_by_release)
        .group_by(people.c.pid)
        .subquery()
    )


def _action_flags(session: Session, people: Any) -> Any:
    """Per person: a plan action done by the end of the release day, on a goal in the
    item's life domains, and for some items mentioning its words."""
    done_on = sq.utc_date(
        session, func.coalesce(col(Action.outcome_recorded_at), col(Action.updated_at))
    )
    text = (
        func.coalesce(col(Action.description), "") + " " + func.coalesce(col(Action.resource), "")
    )
    domain = col(Goal.life_domain)
    medication = and_(
        domain.in_((LifeDomain.health, LifeDomain.substance_use)),
        or_(*[text.ilike(w) for w in MEDICATION_LIKE]),
    )
    return (
        select(
            people.c.pid,
            _flag(domain == LifeDomain.housing, "accommodation"),
            _flag(domain == LifeDomain.benefits, "benefits_claim"),
            _flag(medication, "medication_on_release"),
            _flag(text.ilike(REPORTING_LIKE), "reporting_instructions"),
        )
        .join(Action, col(Action.participant_id) == people.c.pid)
        .outerjoin(Goal, col(Goal.id) == Action.goal_id)
        .where(
            col(Action.status) == ActionStatus.done,
            done_on < _end_of_release_day(session, people),
        )
        .group_by(people.c.pid)
        .subquery()
    )


def _appointment_flags(session: Session, people: Any) -> Any:
    """Per person: an appointment booked by the end of the release day that is the gate
    meeting (on the release day, not cancelled or missed) or a probation appointment in
    the reporting window (not cancelled)."""
    release = people.c.released
    starts_on = sq.utc_date(session, col(Appointment.starts_at))
    attendance = col(Appointment.attendance)
    probation_org = aliased(Organisation)
    probation = select(col(probation_org.id)).where(col(probation_org.kind) == OrgKind.probation)
    gate = and_(
        col(Appointment.kind) == AppointmentKind.gate_meeting,
        starts_on == release,
        or_(
            attendance.is_(None),
            attendance.not_in([Attendance.cancelled, Attendance.did_not_attend]),
        ),
    )
    reporting = and_(
        col(Appointment.with_org_id).in_(probation),
        starts_on >= release,
        starts_on <= sq.date_plus_days(session, release, REPORTING_WINDOW_DAYS),
        or_(attendance.is_(None), attendance != Attendance.cancelled),
    )
    booked = sq.utc_date(session, col(Appointment.created_at))
    return (
        select(
            people.c.pid,
            _flag(gate, "gate_meeting"),
            _flag(reporting, "reporting_instructions"),
        )
        .join(Appointment, col(Appointment.participant_id) == people.c.pid)
        .where(booked < _end_of_release_day(session, people), or_(gate, reporting))
        .group_by(people.c.pid)
        .subquery()
    )


def _contact_consent(session: Session, people: Any) -> Any:
    """People with consent to share contact details in force at the end of the release day."""
    cutoff = _end_of_release_day(session, people)
    return (
        select(people.c.pid)
        .join(Consent, col(Consent.participant_id) == people.c.pid)
        .where(
            _json_has(col(Consent.categories), "contact"),
            sq.utc_date(session, col(Consent.given_at)) < cutoff,
            or_(
                col(Consent.withdrawn_at).is_(None),
                sq.utc_date(session, col(Consent.withdrawn_at)) >= cutoff,
            ),
            or_(
                col(Consent.expires_at).is_(None),
                sq.utc_date(session, col(Consent.expires_at)) >= cutoff,
            ),
        )
        .distinct()
        .subquery()
    )


READINESS_ITEMS = (
    "accommodation",
    "gp_registration",
    "community_treatment",
    "benefits_claim",
    "medication_on_release",
    "gate_meeting",
    "contact_confirmed",
    "reporting_instructions",
)


def readiness_at_release(session: Session, scope: Scope, threshold: int) -> dict[str, Any]:
    """Per checklist item: of the people released in the range (registered by the
    organisations filtered), how many had it met by the end of their release day."""
    people = _released_people(scope)
    ref = _referral_flags(session, people)
    act = _action_flags(session, people)
    appt = _appointment_flags(session, people)
    consent = _contact_consent(session, people)
    met_by = {
        "accommodation": [ref.c.accommodation, act.c.accommodation],
        "gp_registration": [ref.c.gp_registration],
        "community_treatment": [ref.c.community_treatment],
        "benefits_claim": [ref.c.benefits_claim, act.c.benefits_claim],
        "medication_on_release": [act.c.medication_on_release],
        "gate_meeting": [appt.c.gate_meeting],
        "reporting_instructions": [act.c.reporting_instructions, appt.c.reporting_instructions],
    }
    contact = and_(people.c.has_contact, consent.c.pid.is_not(None))
    met = {key: or_(*[flag == 1 for flag in flags]) for key, flags in met_by.items()}
    met["contact_confirmed"] = contact
    counts = [func.sum(case((met[key], 1), else_=0)) for key in READINESS_ITEMS]
    row = session.execute(
        select(func.count(), *counts)
        .select_from(people)
        .outerjoin(ref, ref.c.pid == people.c.pid)
        .outerjoin(act, act.c.pid == people.c.pid)
        .outerjoin(appt, appt.c.pid == people.c.pid)
        .outerjoin(consent, consent.c.pid == people.c.pid)
    ).one()
    total = int(row[0])
    return {
        key: suppress(total, {"met": int(n or 0), "not_met": total - int(n or 0)}, threshold)
        for key, n in zip(READINESS_ITEMS, row[1:], strict=True)
    }


def _services_released(scope: Scope) -> Any:
    """(participant, service, release date) for people released in the range whose day
    7 has passed, and each community organisation an accepted referral went to."""
    to_org = aliased(Organisation)
    return (
        select(
            col(Referral.participant_id).label("pid"),
            col(Referral.to_org_id).label("org"),
            col(Participant.actual_release_date).label("released"),
        )
        .join(Participant, col(Participant.id) == Referral.participant_id)
        .join(to_org, col(to_org.id) == Referral.to_org_id)
        .where(
            col(Referral.status).in_(ACCEPTED),
            col(to_org.kind) != OrgKind.prison_healthcare,
            col(Participant.actual_release_date) >= scope.start,
            col(Participant.actual_release_date) <= scope.end,
            col(Participant.actual_release_date)
            <= scope.today - timedelta(days=ENGAGEMENT_DAYS[0]),
            *scope.org(col(Referral.to_org_id)),
        )
        .distinct()
        .cte("pairs")
    )


def _first_contacts(session: Session, pairs: Any) -> Any:
    """Per (person, service) pair: the first day of contact on or after release (up to
    the last day counted), over attended appointments, contact notes and milestones."""
    released, last = (
        pairs.c.released,
        sq.date_plus_days(session, pairs.c.released, ENGAGEMENT_DAYS[-1]),
    )
    starts_on = sq.utc_date(session, col(Appointment.starts_at))
    attended = (
        select(pairs.c.pid, pairs.c.org, func.min(starts_on).label("on"))
        .join(Appointment, col(Appointment.participant_id) == pairs.c.pid)
        .where(
            or_(
                col(Appointment.with_org_id) == pairs.c.org,
                and_(
                    col(Appointment.with_org_id).is_(None),
                    col(Appointment.source_org_id) == pairs.c.org,
                ),
            ),
            col(Appointment.attendance) == Attendance.attended,
            starts_on >= released,
            starts_on <= last,
        )
        .group_by(pairs.c.pid, pairs.c.org)
    )
    noted = (
        select(pairs.c.pid, pairs.c.org, func.min(col(CaseNote.occurred_on)).label("on"))
        .join(CaseNote, col(CaseNote.participant_id) == pairs.c.pid)
        .where(
            col(CaseNote.source_org_id) == pairs.c.org,
            col(CaseNote.kind).in_(CONTACT_NOTES),
            col(CaseNote.occurred_on) >= released,
            col(CaseNote.occurred_on) <= last,
        )
        .group_by(pairs.c.pid, pairs.c.org)
    )
    referral = aliased(Referral)
    milestone = (
        select(pairs.c.pid, pairs.c.org, func.min(col(ReferralMilestone.occurred_on)).label("on"))
        .join(ReferralMilestone, col(ReferralMilestone.participant_id) == pairs.c.pid)
        .join(
            referral,
            and_(
                col(referral.id) == ReferralMilestone.referral_id,
                col(referral.to_org_id) == pairs.c.org,
            ),
        )
        .where(
            col(ReferralMilestone.kind).in_(CONTACT_MILESTONES),
            col(ReferralMilestone.occurred_on) >= released,
            col(ReferralMilestone.occurred_on) <= last,
        )
        .group_by(pairs.c.pid, pairs.c.org)
    )
    every = union_all(attended, noted, milestone).subquery()
    return (
        select(every.c.pid, every.c.org, func.min(every.c.on).label("first"))
        .group_by(every.c.pid, every.c.org)
        .subquery()
    )


def engagement_after_release(session: Session, scope: Scope, threshold: int) -> dict[str, Any]:
    """For each day N (7, 28): of the services people released in the range (whose day N
    has passed) were accepted by (the organisations filtered), how many they were in
    contact with by day N: an attended appointment, a contact note, or a contact milestone.

    One statement: the pairs once, the first day of contact of each pair in one pass per
    kind of evidence, then both days counted from it (the first form, an EXISTS per kind
    per pair and per day, took 5.6 s for a year at 1M on PostgreSQL)."""
    pairs = _services_released(scope)
    first = _first_contacts(session, pairs)
    counted: list[Any] = []
    for days in ENGAGEMENT_DAYS:
        due = pairs.c.released <= scope.today - timedelta(days=days)
        by_day = first.c.first <= sq.date_plus_days(session, pairs.c.released, days)
        counted += [
            func.sum(case((due, 1), else_=0)),
            func.sum(case((and_(due, by_day), 1), else_=0)),
        ]
    row = session.execute(
        select(*counted)
        .select_from(pairs)
        .outerjoin(first, and_(first.c.pid == pairs.c.pid, first.c.org == pairs.c.org))
    ).one()
    out: dict[str, Any] = {}
    for i, days in enumerate(ENGAGEMENT_DAYS):
        total, engaged = int(row[2 * i] or 0), int(row[2 * i + 1] or 0)
        parts = {"engaged": engaged, "not_engaged": total - engaged}
        out[f"day_{days}"] = suppress(total, parts, threshold)
    return out


def appointment_attendance(session: Session, scope: Scope, threshold: int) -> dict[str, Any]:
    """Appointments that started in the range (and before now) with the organisations
    filtered (the one seen, else the one that booked), by attendance recorded."""
    seen_by = func.coalesce(col(Appointment.with_org_id), col(Appointment.source_org_id))
    now = datetime.combine(scope.today, time.max, UTC)
    bucket = func.coalesce(cast(col(Appointment.attendance), String), literal("not_recorded"))
    rows = session.execute(
        select(bucket, func.count())
        .where(
            *scope.window(col(Appointment.starts_at)),
            col(Appointment.starts_at) <= now,
            *scope.org(seen_by),
        )
        .group_by(bucket)
    ).all()
    counts = {str(k): int(n) for k, n in rows}
    keys = [a.value for a in Attendance] + ["not_recorded"]
    parts = {k: counts.get(k, 0) for k in keys}
    return suppress(sum(parts.values()), parts, threshold)


def did_not_attend_rate(table: dict[str, Any]) -> float | None:
    """Did-not-attend / (attended + did-not-attend), only from counts that are shown."""
    dna, went = table["parts"]["did_not_attend"], table["parts"]["attended"]
    if dna["suppressed"] or went["suppressed"] or not (dna["value"] + went["value"]):
        return None
    rate: float = dna["value"] / (dna["value"] + went["value"])
    return round(rate, 3)
