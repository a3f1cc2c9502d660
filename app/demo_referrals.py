"""Demo directory and referrals: synthetic services and referrals in every state.

Wired into app/demo.py by `seed_referrals(session, orgs, users, participants)`. No real
services, people or places: every name, number and address here is invented (phone
numbers are from the Ofcom drama range).
"""

import uuid
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from app.models.base import utcnow
from app.models.directory import Service, ServiceHours, Setting
from app.models.notice import Notice
from app.models.organisation import Organisation, OrgKind, User
from app.models.participant import CareRole, CareTeamMember, Participant
from app.models.referral import (
    ReasonCode,
    Referral,
    ReferralStatus,
    ReferralTransition,
    Urgency,
)

WEEKDAYS = range(5)
EVERY_DAY = range(7)
# Providers the directory needs; created when the demo world has none of that kind.
EXTRA_PROVIDERS: list[tuple[str, OrgKind]] = [
    ("Northtown Primary Care Network", OrgKind.primary_care),
    ("Northtown Recovery Service", OrgKind.substance_misuse),
    ("Northtown Advice Centre", OrgKind.voluntary),
]

# name, provider kind, setting, categories, days open, opens, closes, accepts, stale,
# criminal-record exclusions
SERVICES: list[tuple[Any, ...]] = [
    ("Tenancy Sustainment Team", OrgKind.housing, Setting.community, ["housing"],
     WEEKDAYS, "09:00", "17:00", True, False, ["Arson conviction in the last 5 years"]),
    ("Night Shelter", OrgKind.voluntary, Setting.community, ["housing", "food"],
     EVERY_DAY, "19:00", "24:00", False, False, []),
    ("Community Mental Health Assessment", OrgKind.community_mental_health,
     Setting.community, ["mental_health"], WEEKDAYS, "09:00", "17:00", True, False, []),
    ("Prison In-reach Mental Health", OrgKind.prison_healthcare, Setting.prison,
     ["mental_health", "medication"], WEEKDAYS, "08:30", "16:30", True, False, []),
    ("Drug and Alcohol Recovery", OrgKind.substance_misuse, Setting.both,
     ["substance_misuse", "medication"], range(6), "09:00", "18:00", True, False, []),
    ("Weekend Peer Drop-in", OrgKind.peer_support, Setting.community,
     ["peer_support", "food"], (5, 6), "10:00", "14:00", False, False, []),
    ("GP Registration Support", OrgKind.primary_care, Setting.community,
     ["primary_care"], WEEKDAYS, "08:00", "18:30", True, False, []),
    ("Benefits on Release", OrgKind.voluntary, Setting.both, ["benefits"],
     (1, 3), "10:00", "15:00", True, True, ["Current benefit fraud investigation"]),
]  # fmt: skip


def _org_of(orgs: dict[str, Organisation], kind: OrgKind) -> Organisation | None:
    return next((o for o in orgs.values() if o.kind == kind), None)


def _actor(users: dict[str, User], org: Organisation) -> str:
    user = next((u for u in users.values() if u.organisation_id == org.id), None)
    return f"user:{user.id}" if user else f"org:{org.id}"


def seed_directory(session: Session, orgs: dict[str, Organisation]) -> dict[str, Service]:
    """The synthetic directory (incl. a weekend gap, a weekend-only service, a stale entry)."""
    for name, kind in EXTRA_PROVIDERS:
        if _org_of(orgs, kind) is None:
            org = Organisation(name=name, kind=kind)
            session.add(org)
            orgs[name] = org
    session.flush()
    now = utcnow()
    services: dict[str, Service] = {}
    for name, kind, setting, cats, days, opens, closes, accepts, stale, cr in SERVICES:
        provider = _org_of(orgs, kind)
        if provider is None:
            continue
        service = Service(
            provider_org_id=provider.id,
            name=name,
            description=f"{name} for people leaving custody in Northtown (synthetic).",
            setting=setting,
            categories=cats,
            eligibility="Adults (18+) leaving HMP Northtown or living in Northtown.",
            exclusions=["Under 18"],
            criminal_record_exclusions=cr,
            phone="01632 960" + str(100 + len(services)),
            how_to_refer="Refer through Throughcare, or phone the team.",
            accepts_throughcare_referrals=accepts,
            last_verified_at=now - timedelta(days=140 if stale else 20),
            created_by="demo",
        )
        session.add(service)
        session.flush()
        for day in days:
            session.add(
                ServiceHours(service_id=service.id, weekday=day, opens=opens, closes=closes)
            )
        services[name] = service
    session.flush()
    return services


# to-org kind, service, urgency, status path, attached categories
REFERRALS: list[tuple[OrgKind, str | None, Urgency, list[ReferralStatus], list[str]]] = [
    (OrgKind.housing, "Tenancy Sustainment Team", Urgency.soon,
     [ReferralStatus.submitted, ReferralStatus.accepted, ReferralStatus.in_progress],
     ["identity", "custody"]),
    (OrgKind.community_mental_health, "Community Mental Health Assessment", Urgency.routine,
     [ReferralStatus.submitted, ReferralStatus.accepted], ["identity", "custody"]),
    (OrgKind.primary_care, "GP Registration Support", Urgency.urgent,
     [ReferralStatus.submitted], ["identity"]),
    (OrgKind.substance_misuse, "Drug and Alcohol Recovery", Urgency.soon,
     [ReferralStatus.submitted, ReferralStatus.accepted, ReferralStatus.in_progress,
      ReferralStatus.completed], ["identity"]),
    (OrgKind.voluntary, "Benefits on Release", Urgency.routine,
     [ReferralStatus.submitted, ReferralStatus.declined], ["identity"]),
    (OrgKind.peer_support, None, Urgency.routine, [], ["identity"]),
    (OrgKind.housing, None, Urgency.routine,
     [ReferralStatus.submitted, ReferralStatus.withdrawn], ["identity"]),
]  # fmt: skip

_CODES = {
    ReferralStatus.declined: ReasonCode.no_capacity,
    ReferralStatus.withdrawn: ReasonCode.needs_met_elsewhere,
}
_NOTES = {
    ReferralStatus.declined: "Not taking new referrals until next month (synthetic).",
    ReferralStatus.completed: "Engaged with recovery worker for six weeks (synthetic).",
}


def _add_referral(
    session: Session,
    participant: Participant,
    from_org: Organisation,
    to_org: Organisation,
    service: Service | None,
    urgency: Urgency,
    path: list[ReferralStatus],
    categories: list[str],
    users: dict[str, User],
    days_ago: int,
) -> None:
    start = utcnow() - timedelta(days=days_ago)
    referral = Referral(
        id=uuid.uuid4(),
        participant_id=participant.id,
        from_org_id=from_org.id,
        to_org_id=to_org.id,
        service_id=service.id if service else None,
        reason="Synthetic demo referral ahead of release.",
        urgency=urgency,
        categories=categories,
        status=ReferralStatus.draft,
        created_by=_actor(users, from_org),
        created_at=start,
        updated_at=start,
    )
    session.add(referral)
    session.flush()
    previous: ReferralStatus | None = None
    for step, status in enumerate([ReferralStatus.draft, *path]):
        at = start + timedelta(hours=6 * step)
        by_referrer = status in (
            ReferralStatus.draft,
            ReferralStatus.submitted,
            ReferralStatus.withdrawn,
        )
        org = from_org if by_referrer else to_org
        session.add(
            ReferralTransition(
                referral_id=referral.id, from_status=previous, to_status=status,
                actor=_actor(users, org), actor_org_id=org.id, note=_NOTES.get(status),
                reason_code=_CODES.get(status), at=at,
            )
        )  # fmt: skip
        if status == ReferralStatus.submitted:
            referral.submitted_at = at
        if status == ReferralStatus.accepted:
            session.add(
                CareTeamMember(
                    participant_id=participant.id, organisation_id=to_org.id,
                    role=CareRole.contributor, source_org_id=to_org.id,
                    added_by=_actor(users, to_org), since=at,
                )
            )  # fmt: skip
        if status in (ReferralStatus.accepted, ReferralStatus.declined, ReferralStatus.completed):
            session.add(
                Notice(
                    organisation_id=from_org.id, kind=f"referral_{status}",
                    participant_id=participant.id, subject_id=str(referral.id),
                    message=f"Your referral was {status} by {to_org.name}.", created_at=at,
                )
            )  # fmt: skip
        previous = status
        referral.status = status
        referral.version = step + 1
        referral.updated_at = at
    referral.decline_reason = _NOTES[ReferralStatus.declined] if previous == "declined" else None
    referral.decline_code = _CODES[ReferralStatus.declined] if previous == "declined" else None
    referral.withdraw_code = _CODES[ReferralStatus.withdrawn] if previous == "withdrawn" else None
    referral.outcome = _NOTES[ReferralStatus.completed] if previous == "completed" else None
    session.add(referral)


def seed_referrals(
    session: Session,
    orgs: dict[str, Organisation],
    users: dict[str, User],
    participants: list[Participant],
) -> None:
    """Add the synthetic directory and referrals in every state for the demo participants."""
    services = seed_directory(session, orgs)
    if not participants:
        return
    for index, (kind, service_name, urgency, path, cats) in enumerate(REFERRALS):
        participant = participants[index % len(participants)]
        from_org = session.get(Organisation, participant.source_org_id)
        to_org = _org_of(orgs, kind)
        if from_org is None or to_org is None or to_org.id == from_org.id:
            continue
        service = services.get(service_name) if service_name else None
        if service is not None and service.provider_org_id != to_org.id:
            service = None
        _add_referral(
            session, participant, from_org, to_org, service, urgency, path, cats, users,
            days_ago=2 + index * 3,
        )  # fmt: skip
    session.flush()
