"""Statistics of care for commissioners: times, readiness at release, engagement, attendance.

Each figure is one SQL query (aggregates over EXISTS subqueries); no row is loaded into
Python. The per-person rules (app/services/release_readiness.py, engagement.py) are
followed as far as SQL can without the sharing decision (a commissioner sees counts of
everything); where they are approximated, docs/governance.md says how.
"""

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, and_, case, cast, exists, func, literal, or_, select
from sqlalchemy.sql import ColumnElement
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
    accepted_at = (
        select(
            col(ReferralTransition.referral_id), func.min(col(ReferralTransition.at)).label("at")
        )
        .where(col(ReferralTransition.to_status) == ReferralStatus.accepted)
        .group_by(col(ReferralTransition.referral_id))
        .subquery()
    )
    values = (
        select(sq.days_between(session, accepted_at.c.at, col(Referral.submitted_at)))
        .select_from(Referral)
        .join(accepted_at, accepted_at.c.referral_id == Referral.id)
        .where(*submitted_in(scope))
    )
    return _median(session, values, threshold)


def median_days_to_first_contact(session: Session, scope: Scope, threshold: int) -> dict[str, Any]:
    """Median days from submission to the recipient's "first contact made" milestone."""
    first = (
        select(
            col(ReferralMilestone.referral_id),
            func.min(ReferralMilestone.occurred_on).label("on"),
        )
        .where(col(ReferralMilestone.kind) == MilestoneKind.first_contact_made)
        .group_by(col(ReferralMilestone.referral_id))
        .subquery()
    )
    values = (
        select(sq.days_from_stamp_to_date(session, first.c.on, col(Referral.submitted_at)))
        .select_from(Referral)
        .join(first, first.c.referral_id == Referral.id)
        .where(*submitted_in(scope))
    )
    return _median(session, values, threshold)


def _released(scope: Scope) -> list[Any]:
    return [
        col(Participant.actual_release_date) >= scope.start,
        col(Participant.actual_release_date) <= scope.end,
        *scope.org(col(Participant.source_org_id)),
    ]


def _end_of_release_day(session: Session) -> Any:
    """Evidence counts when recorded by the end of the release day (UTC)."""
    return sq.date_plus_days(session, col(Participant.actual_release_date), 1)


def _json_has(column: Any, value: str) -> Any:
    # JSON lists written by one serializer (json.dumps) on both backends.
    return cast(column, String).like(f'%"{value}"%')


def _accepted_referral(
    session: Session, kinds: tuple[str, ...], categories: tuple[str, ...]
) -> ColumnElement[bool]:
    """An accepted referral (accepted by the end of the release day) to an organisation
    of one of `kinds` or a directory service offering one of `categories`."""
    cutoff = _end_of_release_day(session)
    about: list[Any] = [col(Organisation.kind).in_(kinds)] if kinds else []
    about += [_json_has(col(Service.categories), c) for c in categories]
    accepted_by_release = (
        exists()
        .where(
            col(ReferralTransition.referral_id) == col(Referral.id),
            col(ReferralTransition.to_status) == ReferralStatus.accepted,
            sq.utc_date(session, col(ReferralTransition.at)) < cutoff,
        )
        .correlate_except(ReferralTransition)
    )  # the release day is the outer person's
    return exists(
        select(col(Referral.id))
        .join(Organisation, col(Organisation.id) == Referral.to_org_id)
        .outerjoin(Service, col(Service.id) == Referral.service_id)
        .where(
            col(Referral.participant_id) == col(Participant.id),
            col(Referral.status).in_(ACCEPTED),
            or_(*about),
            accepted_by_release,
        )
    )


def _done_action(session: Session, domains: tuple[str, ...] | None, words: tuple[str, ...]) -> Any:
    """A plan action done by the end of the release day, on a goal in one of `domains`
    (any goal when None), whose description or resource mentions one of `words`."""
    where: list[Any] = [
        col(Action.participant_id) == col(Participant.id),
        col(Action.status) == ActionStatus.done,
        sq.utc_date(session, func.coalesce(col(Action.outcome_recorded_at), col(Action.updated_at)))
        < _end_of_release_day(session),
    ]
    if words:
        text = (
            func.coalesce(col(Action.description), "")
            + " "
            + func.coalesce(col(Action.resource), "")
        )
        where.append(or_(*[text.ilike(w) for w in words]))
    if domains is not None:
        where += [col(Goal.id) == col(Action.goal_id), col(Goal.life_domain).in_(domains)]
    return exists().where(*where)


def _appointment(session: Session, *where: Any) -> Any:
    """An appointment booked by the end of the release day, matching `where`."""
    booked = sq.utc_date(session, col(Appointment.created_at)) < _end_of_release_day(session)
    return exists().where(col(Appointment.participant_id) == col(Participant.id), booked, *where)


def _readiness_items(session: Session) -> dict[str, Any]:
    release = col(Participant.actual_release_date)
    starts_on = sq.utc_date(session, col(Appointment.starts_at))
    probation = select(col(Organisation.id)).where(col(Organisation.kind) == OrgKind.probation)
    cutoff = _end_of_release_day(session)
    contact_consent = exists().where(
        col(Consent.participant_id) == col(Participant.id),
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
    has_contact = or_(
        col(Participant.phone).is_not(None),
        col(Participant.address).is_not(None),
        col(Participant.email).is_not(None),
    )
    return {
        "accommodation": or_(
            _accepted_referral(session, (OrgKind.housing,), ("housing",)),
            _done_action(session, (LifeDomain.housing,), ()),
        ),
        "gp_registration": _accepted_referral(session, (OrgKind.primary_care,), ("primary_care",)),
        "community_treatment": _accepted_referral(
            session,
            (OrgKind.community_mental_health, OrgKind.substance_misuse),
            ("mental_health", "substance_misuse"),
        ),
        "benefits_claim": or_(
            _accepted_referral(session, (), ("benefits",)),
            _done_action(session, (LifeDomain.benefits,), ()),
        ),
        "medication_on_release": _done_action(
            session, (LifeDomain.health, LifeDomain.substance_use), MEDICATION_LIKE
        ),
        "gate_meeting": _appointment(
            session,
            col(Appointment.kind) == AppointmentKind.gate_meeting,
            starts_on == release,
            or_(
                col(Appointment.attendance).is_(None),
                col(Appointment.attendance).not_in(
                    [Attendance.cancelled, Attendance.did_not_attend]
                ),
            ),
        ),
        "contact_confirmed": and_(has_contact, contact_consent),
        "reporting_instructions": or_(
            _done_action(session, None, (REPORTING_LIKE,)),
            _appointment(
                session,
                col(Appointment.with_org_id).in_(probation),
                starts_on >= release,
                starts_on <= sq.date_plus_days(session, release, REPORTING_WINDOW_DAYS),
                or_(
                    col(Appointment.attendance).is_(None),
                    col(Appointment.attendance) != Attendance.cancelled,
                ),
            ),
        ),
    }


def readiness_at_release(session: Session, scope: Scope, threshold: int) -> dict[str, Any]:
    """Per checklist item: of the people released in the range (registered by the
    organisations filtered), how many had it met by the end of their release day."""
    items = _readiness_items(session)
    met = [func.sum(case((expr, 1), else_=0)) for expr in items.values()]
    row = session.execute(select(func.count(), *met).where(*_released(scope))).one()
    total = int(row[0])
    return {
        key: suppress(total, {"met": int(n or 0), "not_met": total - int(n or 0)}, threshold)
        for key, n in zip(items, row[1:], strict=True)
    }


def _services_released(session: Session, scope: Scope, days: int) -> Any:
    """(participant, service, release date) for people released in the range whose day
    `days` has passed, and each community organisation an accepted referral went to."""
    org_filter = scope.org(col(Referral.to_org_id))
    return (
        select(
            col(Referral.participant_id).label("pid"),
            col(Referral.to_org_id).label("org"),
            col(Participant.actual_release_date).label("released"),
        )
        .join(Participant, col(Participant.id) == Referral.participant_id)
        .join(Organisation, col(Organisation.id) == Referral.to_org_id)
        .where(
            col(Referral.status).in_(ACCEPTED),
            col(Organisation.kind) != OrgKind.prison_healthcare,
            col(Participant.actual_release_date) >= scope.start,
            col(Participant.actual_release_date) <= scope.end,
            col(Participant.actual_release_date) <= scope.today - timedelta(days=days),
            *org_filter,
        )
        .distinct()
        .subquery()
    )


def engagement_after_release(session: Session, scope: Scope, threshold: int) -> dict[str, Any]:
    """For each day N (7, 28): of the services people released in the range were
    accepted by (the organisations filtered), how many they were in contact with by
    day N: an attended appointment, a contact note, or a contact milestone."""
    out: dict[str, Any] = {}
    for days in ENGAGEMENT_DAYS:
        pair = _services_released(session, scope, days)
        last = sq.date_plus_days(session, pair.c.released, days)
        starts_on = sq.utc_date(session, col(Appointment.starts_at))
        attended = exists().where(
            col(Appointment.participant_id) == pair.c.pid,
            or_(
                col(Appointment.with_org_id) == pair.c.org,
                and_(
                    col(Appointment.with_org_id).is_(None),
                    col(Appointment.source_org_id) == pair.c.org,
                ),
            ),
            col(Appointment.attendance) == Attendance.attended,
            starts_on >= pair.c.released,
            starts_on <= last,
        )
        noted = exists().where(
            col(CaseNote.participant_id) == pair.c.pid,
            col(CaseNote.source_org_id) == pair.c.org,
            col(CaseNote.kind).in_(CONTACT_NOTES),
            col(CaseNote.occurred_on) >= pair.c.released,
            col(CaseNote.occurred_on) <= last,
        )
        milestone = exists().where(
            col(ReferralMilestone.participant_id) == pair.c.pid,
            col(ReferralMilestone.referral_id) == col(Referral.id),
            col(Referral.to_org_id) == pair.c.org,
            col(ReferralMilestone.kind).in_(CONTACT_MILESTONES),
            col(ReferralMilestone.occurred_on) >= pair.c.released,
            col(ReferralMilestone.occurred_on) <= last,
        )
        engaged = func.sum(case((or_(attended, noted, milestone), 1), else_=0))
        n, e = session.execute(select(func.count(), engaged).select_from(pair)).one()
        total, e = int(n), int(e or 0)
        out[f"day_{days}"] = suppress(total, {"engaged": e, "not_engaged": total - e}, threshold)
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
