"""Statistics of care for commissioners: times, readiness at release, engagement, attendance.

Each figure is one SQL query (aggregates over EXISTS subqueries); no row is loaded into
Python. The per-person rules (app/services/release_readiness.py, engagement.py) are
followed as far as SQL can without the sharing decision (a commissioner sees counts of
everything); where they are approximated, docs/governance.md says how.
"""

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    String,
    and_,
    cast,
    func,
    literal,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select
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


# Readiness is counted set-wise: each way an item can be met is one join of the people
# released in the range to its evidence (a "branch": rows of (item, person), duplicates
# allowed), all branches are one UNION ALL, and each item's count is its distinct people.
# A correlated EXISTS per item per person (the first form) took 11 s of a year at 1M
# people on PostgreSQL; joins let the planner hash or merge each evidence table once.
Branch = Select[str, Any]


def _released_people(scope: Scope, item: str) -> Branch:
    return select(literal(item).label("item"), col(Participant.id).label("pid")).where(
        *_released(scope)
    )


def _accepted_referral(
    session: Session, branch: Branch, kinds: tuple[str, ...], categories: tuple[str, ...]
) -> Branch:
    """Met by an accepted referral (accepted by the end of the release day) to an
    organisation of one of `kinds` or a directory service offering one of `categories`."""
    to_org = aliased(Organisation)
    about: list[Any] = [col(to_org.kind).in_(kinds)] if kinds else []
    about += [_json_has(col(Service.categories), c) for c in categories]
    return (
        branch.join(Referral, col(Referral.participant_id) == Participant.id)
        .join(to_org, col(to_org.id) == Referral.to_org_id)
        .outerjoin(Service, col(Service.id) == Referral.service_id)
        .join(
            ReferralTransition,
            and_(
                col(ReferralTransition.referral_id) == Referral.id,
                col(ReferralTransition.to_status) == ReferralStatus.accepted,
                sq.utc_date(session, col(ReferralTransition.at)) < _end_of_release_day(session),
            ),
        )
        .where(col(Referral.status).in_(ACCEPTED), or_(*about))
    )


def _done_action(
    session: Session, branch: Branch, domains: tuple[str, ...] | None, words: tuple[str, ...]
) -> Branch:
    """Met by a plan action done by the end of the release day, on a goal in one of
    `domains` (any goal when None), whose description or resource mentions one of `words`."""
    done_on = sq.utc_date(
        session, func.coalesce(col(Action.outcome_recorded_at), col(Action.updated_at))
    )
    where: list[Any] = [
        col(Action.status) == ActionStatus.done,
        done_on < _end_of_release_day(session),
    ]
    if words:
        text = (
            func.coalesce(col(Action.description), "")
            + " "
            + func.coalesce(col(Action.resource), "")
        )
        where.append(or_(*[text.ilike(w) for w in words]))
    joined = branch.join(Action, col(Action.participant_id) == Participant.id)
    if domains is not None:
        joined = joined.join(Goal, col(Goal.id) == Action.goal_id)
        where.append(col(Goal.life_domain).in_(domains))
    return joined.where(*where)


def _appointment(session: Session, branch: Branch, *where: Any) -> Branch:
    """Met by an appointment booked by the end of the release day, matching `where`."""
    booked = sq.utc_date(session, col(Appointment.created_at)) < _end_of_release_day(session)
    return branch.join(Appointment, col(Appointment.participant_id) == Participant.id).where(
        booked, *where
    )


def _contact_confirmed(session: Session, branch: Branch) -> Branch:
    """Met by a contact detail on the record and consent to share contact details that
    was in force at the end of the release day."""
    cutoff = _end_of_release_day(session)
    return branch.join(Consent, col(Consent.participant_id) == Participant.id).where(
        or_(
            col(Participant.phone).is_not(None),
            col(Participant.address).is_not(None),
            col(Participant.email).is_not(None),
        ),
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


def _readiness_branches(session: Session, scope: Scope) -> dict[str, list[Branch]]:
    """Each checklist item and the ways it can be met (met when any one is)."""
    release = col(Participant.actual_release_date)
    starts_on = sq.utc_date(session, col(Appointment.starts_at))
    probation_org = aliased(Organisation)
    probation = select(col(probation_org.id)).where(col(probation_org.kind) == OrgKind.probation)

    def people(item: str) -> Branch:
        return _released_people(scope, item)

    return {
        "accommodation": [
            _accepted_referral(session, people("accommodation"), (OrgKind.housing,), ("housing",)),
            _done_action(session, people("accommodation"), (LifeDomain.housing,), ()),
        ],
        "gp_registration": [
            _accepted_referral(
                session, people("gp_registration"), (OrgKind.primary_care,), ("primary_care",)
            )
        ],
        "community_treatment": [
            _accepted_referral(
                session,
                people("community_treatment"),
                (OrgKind.community_mental_health, OrgKind.substance_misuse),
                ("mental_health", "substance_misuse"),
            )
        ],
        "benefits_claim": [
            _accepted_referral(session, people("benefits_claim"), (), ("benefits",)),
            _done_action(session, people("benefits_claim"), (LifeDomain.benefits,), ()),
        ],
        "medication_on_release": [
            _done_action(
                session,
                people("medication_on_release"),
                (LifeDomain.health, LifeDomain.substance_use),
                MEDICATION_LIKE,
            )
        ],
        "gate_meeting": [
            _appointment(
                session,
                people("gate_meeting"),
                col(Appointment.kind) == AppointmentKind.gate_meeting,
                starts_on == release,
                or_(
                    col(Appointment.attendance).is_(None),
                    col(Appointment.attendance).not_in(
                        [Attendance.cancelled, Attendance.did_not_attend]
                    ),
                ),
            )
        ],
        "contact_confirmed": [_contact_confirmed(session, people("contact_confirmed"))],
        "reporting_instructions": [
            _done_action(session, people("reporting_instructions"), None, (REPORTING_LIKE,)),
            _appointment(
                session,
                people("reporting_instructions"),
                col(Appointment.with_org_id).in_(probation),
                starts_on >= release,
                starts_on <= sq.date_plus_days(session, release, REPORTING_WINDOW_DAYS),
                or_(
                    col(Appointment.attendance).is_(None),
                    col(Appointment.attendance) != Attendance.cancelled,
                ),
            ),
        ],
    }


def readiness_at_release(session: Session, scope: Scope, threshold: int) -> dict[str, Any]:
    """Per checklist item: of the people released in the range (registered by the
    organisations filtered), how many had it met by the end of their release day."""
    items = _readiness_branches(session, scope)
    met = union_all(*[b for branches in items.values() for b in branches]).subquery()
    rows = session.execute(
        select(met.c.item, func.count(func.distinct(met.c.pid))).group_by(met.c.item)
    ).all()
    counts = {str(k): int(n) for k, n in rows}
    total = int(session.execute(select(func.count()).where(*_released(scope))).scalar_one())
    return {
        key: suppress(
            total, {"met": counts.get(key, 0), "not_met": total - counts.get(key, 0)}, threshold
        )
        for key in items
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
    day N: an attended appointment, a contact note, or a contact milestone.

    Counted set-wise like readiness: the (person, service) pairs in contact are the
    UNION of three joins of the pairs to their evidence."""
    out: dict[str, Any] = {}
    for days in ENGAGEMENT_DAYS:
        pair = _services_released(session, scope, days)
        last = sq.date_plus_days(session, pair.c.released, days)
        starts_on = sq.utc_date(session, col(Appointment.starts_at))
        attended = (
            select(pair.c.pid, pair.c.org)
            .join(Appointment, col(Appointment.participant_id) == pair.c.pid)
            .where(
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
        )
        noted = (
            select(pair.c.pid, pair.c.org)
            .join(CaseNote, col(CaseNote.participant_id) == pair.c.pid)
            .where(
                col(CaseNote.source_org_id) == pair.c.org,
                col(CaseNote.kind).in_(CONTACT_NOTES),
                col(CaseNote.occurred_on) >= pair.c.released,
                col(CaseNote.occurred_on) <= last,
            )
        )
        referral = aliased(Referral)
        milestone = (
            select(pair.c.pid, pair.c.org)
            .join(ReferralMilestone, col(ReferralMilestone.participant_id) == pair.c.pid)
            .join(
                referral,
                and_(
                    col(referral.id) == ReferralMilestone.referral_id,
                    col(referral.to_org_id) == pair.c.org,
                ),
            )
            .where(
                col(ReferralMilestone.kind).in_(CONTACT_MILESTONES),
                col(ReferralMilestone.occurred_on) >= pair.c.released,
                col(ReferralMilestone.occurred_on) <= last,
            )
        )
        engaged = union(attended, noted, milestone).subquery()
        total = int(session.execute(select(func.count()).select_from(pair)).scalar_one())
        e = int(session.execute(select(func.count()).select_from(engaged)).scalar_one())
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
