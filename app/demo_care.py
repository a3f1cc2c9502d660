"""Synthetic demo care record: plans, appointments, a risk alert, screenings.

Everything is invented (no real people, places or identifiers). The lead wires
`seed_care_record` into app/demo.py after organisations, users and participants exist.
"""

from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session

from app.models.appointment import Appointment, AppointmentKind, Attendance
from app.models.organisation import Organisation, User
from app.models.participant import Participant
from app.models.plan import (
    Action,
    ActionStatus,
    Goal,
    Horizon,
    LifeDomain,
    OwnerKind,
    Plan,
    PlanVersion,
    Review,
)
from app.models.risk import RiskAlert, RiskKind, RiskLevel
from app.models.screening import Instrument, Screening
from app.services.plan import goal_read
from app.services.scoring import score

# (title, horizon, life domain, priority, steps: (description, owner kind, owner org key,
#  resource, due in days, status, outcome note))
GOALS: list[
    tuple[
        str,
        Horizon,
        LifeDomain,
        int,
        list[tuple[str, OwnerKind, str | None, str | None, int, ActionStatus, str | None]],
    ]
] = [
    (
        "Somewhere safe to live from the day of release",
        Horizon.short_term_recovery,
        LifeDomain.housing,
        1,
        [
            (
                "Complete the housing options referral form",
                OwnerKind.practitioner,
                "coord",
                "Housing options duty line",
                -10,
                ActionStatus.done,
                "Sent with consent",
            ),
            (
                "Attend the pre-release housing assessment",
                OwnerKind.participant,
                None,
                "Video link in the healthcare unit",
                -3,
                ActionStatus.done,
                "Went; felt listened to",
            ),
            (
                "Confirm the supported-housing bed",
                OwnerKind.other_professional,
                "housing",
                "Supported housing panel",
                5,
                ActionStatus.planned,
                None,
            ),
        ],
    ),
    (
        "Get back in touch with my sister",
        Horizon.short_term_recovery,
        LifeDomain.relationships,
        2,
        [
            (
                "Write a letter to my sister",
                OwnerKind.participant,
                None,
                None,
                -5,
                ActionStatus.not_done,
                "Did not know what to say yet; will try with support",
            ),
            (
                "Practise the first phone call in a session",
                OwnerKind.practitioner,
                "coord",
                "Session worksheet",
                7,
                ActionStatus.planned,
                None,
            ),
        ],
    ),
    (
        "Sort out money for the first weeks",
        Horizon.short_term_recovery,
        LifeDomain.benefits,
        2,
        [
            (
                "Book the advance payment appointment",
                OwnerKind.practitioner,
                "probation",
                "Jobcentre partnership",
                2,
                ActionStatus.planned,
                None,
            ),
        ],
    ),
    (
        "Keep a daily routine after release",
        Horizon.long_term_maintenance,
        LifeDomain.daily_structure,
        3,
        [
            (
                "Meet the peer mentor at the gate",
                OwnerKind.family_peer,
                "peer",
                "Gate pick-up",
                14,
                ActionStatus.planned,
                None,
            ),
            (
                "Try the community gym induction",
                OwnerKind.participant,
                None,
                "Leisure centre free pass",
                21,
                ActionStatus.planned,
                None,
            ),
        ],
    ),
    (
        "Keep seeing someone about low mood",
        Horizon.long_term_maintenance,
        LifeDomain.health,
        1,
        [
            (
                "Register with a GP near the new address",
                OwnerKind.participant,
                None,
                "GP registration leaflet",
                16,
                ActionStatus.planned,
                None,
            ),
        ],
    ),
]


def _org_key(orgs: dict[str, Organisation], key: str) -> Organisation:
    """Find a demo organisation by a short key (its kind) or its name."""
    kinds = {
        "coord": "care_coordination",
        "prison": "prison_healthcare",
        "probation": "probation",
        "cmht": "community_mental_health",
        "housing": "housing",
        "peer": "peer_support",
    }
    if key in orgs:
        return orgs[key]
    for org in orgs.values():
        if str(org.kind) == kinds.get(key, key):
            return org
    raise KeyError(key)


def _plan(
    session: Session,
    orgs: dict[str, Organisation],
    user: User | None,
    participant: Participant,
    today: date,
) -> None:
    coord = _org_key(orgs, "coord")
    actor = f"user:{user.id}" if user else "demo"
    plan = Plan(participant_id=participant.id, source_org_id=coord.id, version=1)
    session.add(plan)
    session.flush()
    goals = []
    for title, horizon, domain, priority, steps in GOALS:
        goal = Goal(
            plan_id=plan.id,
            participant_id=participant.id,
            source_org_id=coord.id,
            title=title,
            horizon=horizon,
            life_domain=domain,
            priority=priority,
            created_by=actor,
        )
        session.add(goal)
        session.flush()
        actions = []
        for text, kind, owner, resource, due, status, note in steps:
            action = Action(
                goal_id=goal.id,
                plan_id=plan.id,
                participant_id=participant.id,
                source_org_id=coord.id,
                description=text,
                owner_kind=kind,
                owner_org_id=_org_key(orgs, owner).id if owner else None,
                resource=resource,
                due_date=today + timedelta(days=due),
                status=status,
                outcome_note=note,
                created_by=actor,
            )
            session.add(action)
            actions.append(action)
        session.flush()
        goals.append(goal_read(goal, actions).model_dump(mode="json"))
    review = Review(
        plan_id=plan.id,
        participant_id=participant.id,
        source_org_id=coord.id,
        held_on=today - timedelta(days=2),
        plan_version=1,
        recorded_by=actor,
        attendees=["Participant", "Care coordinator", "Prison mental health nurse"],
        notes="Reviewed steps since last session; letter to sister carried over.",
        next_review_on=today + timedelta(days=12),
    )
    session.add(review)
    session.flush()
    session.add(
        PlanVersion(
            plan_id=plan.id,
            participant_id=participant.id,
            source_org_id=coord.id,
            number=1,
            review_id=review.id,
            snapshot=goals,
        )
    )


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=UTC)


def seed_care_record(
    session: Session,
    orgs: dict[str, Organisation],
    users: dict[str, User],
    participants: list[Participant],
) -> None:
    """Add a believable synthetic care record for the demo participants."""
    if not participants:
        return
    today = datetime.now(UTC).date()
    coord, prison = _org_key(orgs, "coord"), _org_key(orgs, "prison")
    cmht, peer = _org_key(orgs, "cmht"), _org_key(orgs, "peer")
    actor = "demo"
    for index, participant in enumerate(participants[:3]):
        if index == 0:
            _plan(session, orgs, users.get("coordinator"), participant, today)
        release = participant.expected_release_date or today + timedelta(days=14)
        shift = timedelta(days=index)
        session.add_all(
            [
                Appointment(
                    participant_id=participant.id,
                    source_org_id=coord.id,
                    kind=AppointmentKind.gate_meeting,
                    starts_at=_at(release, 9),
                    ends_at=_at(release, 10),
                    place="Main gate visitors' car park",
                    with_org_id=peer.id,
                    with_whom="Peer mentor",
                    created_by=actor,
                ),
                Appointment(
                    participant_id=participant.id,
                    source_org_id=cmht.id,
                    kind=AppointmentKind.assessment,
                    starts_at=_at(release, 14) + shift,
                    ends_at=_at(release, 15) + shift,
                    place="Community team base, room 2",
                    created_by=actor,
                ),
                Appointment(
                    participant_id=participant.id,
                    source_org_id=coord.id,
                    kind=AppointmentKind.one_to_one,
                    starts_at=_at(today, 10) - shift * 7 - timedelta(days=3),
                    ends_at=_at(today, 11) - shift * 7 - timedelta(days=3),
                    place="Healthcare unit interview room",
                    attendance=Attendance.did_not_attend,
                    created_by=actor,
                ),
                Appointment(
                    participant_id=participant.id,
                    source_org_id=coord.id,
                    kind=AppointmentKind.one_to_one,
                    starts_at=datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
                    + timedelta(hours=26 + index),
                    ends_at=datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
                    + timedelta(hours=27 + index),
                    place="Healthcare unit interview room",
                    created_by=actor,
                ),
            ]
        )
        for weeks_ago, phq, gad in (
            (6, [2, 2, 3, 2, 1, 2, 1, 1, 1], [2, 2, 2, 1, 2, 1, 1]),
            (2, [1, 1, 2, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 0]),
        ):
            when = _at(today - timedelta(weeks=weeks_ago), 11)
            for instrument, items in ((Instrument.phq9, phq), (Instrument.gad7, gad)):
                total, band = score(instrument, items)
                session.add(
                    Screening(
                        participant_id=participant.id,
                        source_org_id=prison.id,
                        instrument=instrument,
                        responses=items,
                        total=total,
                        severity=band,
                        administered_at=when,
                        administered_by=actor,
                    )
                )
        if index == 0:
            session.add(
                RiskAlert(
                    participant_id=participant.id,
                    source_org_id=prison.id,
                    kind=RiskKind.self_harm,
                    level=RiskLevel.medium,
                    notes="History of self-harm at times of loss; ACCT closed "
                    "last month. Check in on release week.",
                    raised_by=actor,
                    raised_at=_at(today - timedelta(days=40), 9),
                )
            )
    session.flush()
