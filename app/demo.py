"""A believable synthetic demo world (no real people, places or identifiers)."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from app.auth.passwords import hash_secret, new_client_secret
from app.auth.scopes import Scope
from app.models.organisation import ApiClient, Organisation, OrgKind, Role, User
from app.models.participant import CareRole, CareTeamMember, Participant, Phase
from app.models.sharing import Consent, ConsentMethod, LawfulBasis, SharingProtocol
from app.sharing.categories import Category, Purpose

DEMO_PASSWORD = "demo-password-not-for-production"

ORGANISATIONS: dict[str, tuple[str, OrgKind]] = {
    "coord": ("Northtown Care Coordination", OrgKind.care_coordination),
    "prison": ("HMP Northtown Healthcare", OrgKind.prison_healthcare),
    "probation": ("Northtown Probation Delivery Unit", OrgKind.probation),
    "cmht": ("Northtown Community Mental Health Team", OrgKind.community_mental_health),
    "housing": ("Northtown Housing Options", OrgKind.housing),
    "peer": ("Second Chance Peer Support", OrgKind.peer_support),
}

USERS: list[tuple[str, str, Role]] = [
    ("coordinator", "coord", Role.practitioner),
    ("coord-supervisor", "coord", Role.supervisor),
    ("coord-admin", "coord", Role.org_admin),
    ("prison-nurse", "prison", Role.practitioner),
    ("probation-officer", "probation", Role.practitioner),
    ("cmht-worker", "cmht", Role.practitioner),
    ("housing-officer", "housing", Role.practitioner),
    ("peer-mentor", "peer", Role.practitioner),
    ("sysadmin", "coord", Role.system_admin),
]

PARTNER_CLIENTS: list[tuple[str, str, list[str]]] = [
    (
        "Prison health record",
        "prison",
        [Scope.participants_read, Scope.referrals_read, Scope.referrals_write, Scope.records_read],
    ),
    (
        "Probation case management",
        "probation",
        [Scope.participants_read, Scope.referrals_read, Scope.referrals_write],
    ),
]

# (given, family, phase, release in days, prison number, CRN, consent to CMHT/housing)
PARTICIPANTS: list[tuple[str, str, Phase, int, str, str, bool]] = [
    ("Alex", "Demo-Ashdown", Phase.pre_release, 10, "A1001AA", "X100001", True),
    ("Bailey", "Demo-Birchley", Phase.in_prison, 60, "A1002AB", "X100002", False),
    ("Casey", "Demo-Copperfield", Phase.community, -20, "A1003AC", "X100003", True),
    ("Devon", "Demo-Dunmore", Phase.ended, -200, "A1004AD", "X100004", False),
]

PROTOCOLS: list[tuple[str, str, str, list[Category], list[Purpose], LawfulBasis]] = [
    (
        "Resettlement risk sharing",
        "care_coordination",
        "probation",
        [Category.identity, Category.custody, Category.risk, Category.plan],
        [Purpose.direct_care, Purpose.risk_management, Purpose.public_protection],
        LawfulBasis.public_task,
    ),
    (
        "Prison healthcare to coordination",
        "prison_healthcare",
        "care_coordination",
        [Category.identity, Category.mental_health, Category.risk, Category.custody],
        [Purpose.direct_care],
        LawfulBasis.public_task,
    ),
    (
        "Coordination to prison healthcare",
        "care_coordination",
        "prison_healthcare",
        [Category.identity, Category.custody, Category.plan, Category.appointments],
        [Purpose.direct_care],
        LawfulBasis.public_task,
    ),
    (
        "Continuity of mental-health care",
        "care_coordination",
        "community_mental_health",
        [
            Category.identity,
            Category.contact,
            Category.mental_health,
            Category.plan,
            Category.appointments,
            Category.risk,
        ],
        [Purpose.direct_care],
        LawfulBasis.consent,
    ),
    (
        "Housing on release",
        "care_coordination",
        "housing",
        [Category.identity, Category.contact, Category.social, Category.custody],
        [Purpose.direct_care],
        LawfulBasis.consent,
    ),
    (
        "Peer support through the gate",
        "care_coordination",
        "peer_support",
        [Category.identity, Category.contact, Category.plan, Category.appointments],
        [Purpose.direct_care],
        LawfulBasis.consent,
    ),
    (
        "Safeguarding risk to life",
        "care_coordination",
        "community_mental_health",
        [Category.risk],
        [Purpose.safeguarding],
        LawfulBasis.vital_interests,
    ),
]


def seed(session: Session) -> dict[str, Any]:
    """Create the demo world; returns the credentials to print."""
    orgs = {key: Organisation(name=name, kind=kind) for key, (name, kind) in ORGANISATIONS.items()}
    session.add_all(orgs.values())
    session.flush()
    password_hash = hash_secret(DEMO_PASSWORD)
    users: dict[str, User] = {}
    for username, org_key, role in USERS:
        users[username] = User(
            username=username,
            role=role,
            organisation_id=orgs[org_key].id,
            password_hash=password_hash,
            display_name=username.replace("-", " ").title(),
        )
    session.add_all(users.values())
    clients = []
    for name, org_key, scopes in PARTNER_CLIENTS:
        secret = new_client_secret()
        client = ApiClient(
            name=name,
            scopes=[str(s) for s in scopes],
            organisation_id=orgs[org_key].id,
            client_id=f"demo-{name.lower().replace(' ', '-')}",
            secret_hash=hash_secret(secret),
        )
        session.add(client)
        clients.append(
            {
                "client_id": client.client_id,
                "client_secret": secret,
                "organisation": orgs[org_key].name,
            }
        )
    session.flush()
    _protocols(session, users["sysadmin"])
    participants = _participants(session, orgs, users)
    participant_user = User(
        username="alex-demo",
        role=Role.participant,
        organisation_id=orgs["coord"].id,
        participant_id=participants[0].id,
        password_hash=password_hash,
        display_name="Alex (participant)",
    )
    session.add(participant_user)
    session.flush()
    _seed_optional(session, orgs, users, participants)
    listed = [{"username": u, "role": r.value, "organisation": orgs[o].name} for u, o, r in USERS]
    listed.append(
        {
            "username": "alex-demo",
            "role": "participant",
            "organisation": "(self-service: Alex Demo-Ashdown)",
        }
    )
    return {"password": DEMO_PASSWORD, "users": listed, "clients": clients}


def _protocols(session: Session, approver: User) -> None:
    for name, source, recipient, categories, purposes, basis in PROTOCOLS:
        session.add(
            SharingProtocol(
                protocol_id=uuid.uuid4(),
                version=1,
                is_current=True,
                created_by=f"user:{approver.id}",
                name=name,
                source_org_kind=OrgKind(source),
                recipient_org_kind=OrgKind(recipient),
                categories=list(categories),
                purposes=list(purposes),
                lawful_basis=basis,
                effective_from=date(2026, 1, 1),
                approved_by="Northtown Information Governance Board (synthetic)",
            )
        )


def _participants(
    session: Session, orgs: dict[str, Organisation], users: dict[str, User]
) -> list[Participant]:
    today = datetime.now(UTC).date()
    coordinator = users["coordinator"]
    out = []
    for i, (given, family, phase, release_in, prison_no, crn, consents) in enumerate(PARTICIPANTS):
        participant = Participant(
            given_name=given,
            family_name=family,
            preferred_name=given,
            date_of_birth=date(1985 + i * 3, 1 + i, 10 + i),
            prison_number=prison_no,
            probation_crn=crn,
            phone=f"07700 90010{i}",
            email=f"{given.lower()}@example.invalid",
            address=f"{10 + i} Sample Street, Northtown",
            gender="prefer not to say",
            establishment="HMP Northtown",
            expected_release_date=today + timedelta(release_in),
            phase=phase,
            intervention_start=today - timedelta(days=90),
            source_org_id=orgs["coord"].id,
            lead_practitioner_id=coordinator.id,
        )
        session.add(participant)
        session.flush()
        team = [
            ("coord", CareRole.lead),
            ("prison", CareRole.contributor),
            ("probation", CareRole.contributor),
            ("cmht", CareRole.contributor),
            ("peer", CareRole.peer),
        ]
        for org_key, role in team:
            session.add(
                CareTeamMember(
                    participant_id=participant.id,
                    organisation_id=orgs[org_key].id,
                    role=role,
                    source_org_id=orgs["coord"].id,
                    added_by=f"user:{coordinator.id}",
                    since=datetime.now(UTC) - timedelta(days=80),
                    user_id=coordinator.id if org_key == "coord" else None,
                )
            )
        if consents:
            session.add(
                Consent(
                    participant_id=participant.id,
                    source_org_id=orgs["coord"].id,
                    categories=["identity", "contact", "mental_health", "plan", "appointments"],
                    recipient_org_ids=[],
                    recipient_org_kinds=["community_mental_health", "peer_support"],
                    purposes=["direct_care"],
                    method=ConsentMethod.written,
                    evidence_ref=f"Signed form DEMO-{i:03d}",
                    recorded_by=f"user:{coordinator.id}",
                    given_at=datetime.now(UTC) - timedelta(days=30),
                )
            )
        out.append(participant)
    session.flush()
    return out


def _seed_optional(
    session: Session,
    orgs: dict[str, Organisation],
    users: dict[str, User],
    participants: list[Participant],
) -> None:
    """The care record and referrals, from their own modules when present."""
    import importlib

    for module_name, function in (
        ("app.demo_care", "seed_care_record"),
        ("app.demo_referrals", "seed_referrals"),
        ("app.demo_continuity", "seed_continuity"),
    ):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        getattr(module, function)(session, orgs, users, participants)
