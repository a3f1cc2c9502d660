"""A believable synthetic demo world (no real people, places or identifiers)."""

from typing import Any

from sqlmodel import Session

from app.auth.passwords import hash_secret, new_client_secret
from app.auth.scopes import Scope
from app.models.organisation import ApiClient, Organisation, OrgKind, Role, User

DEMO_PASSWORD = "demo-password-not-for-production"

ORGANISATIONS: list[tuple[str, OrgKind]] = [
    ("Northtown Care Coordination", OrgKind.care_coordination),
    ("HMP Northtown Healthcare", OrgKind.prison_healthcare),
    ("Northtown Probation Delivery Unit", OrgKind.probation),
    ("Northtown Community Mental Health Team", OrgKind.community_mental_health),
    ("Northtown Housing Options", OrgKind.housing),
    ("Second Chance Peer Support", OrgKind.peer_support),
]

USERS: list[tuple[str, int, Role]] = [
    ("coordinator", 0, Role.practitioner),
    ("coord-supervisor", 0, Role.supervisor),
    ("coord-admin", 0, Role.org_admin),
    ("prison-nurse", 1, Role.practitioner),
    ("probation-officer", 2, Role.practitioner),
    ("cmht-worker", 3, Role.practitioner),
    ("housing-officer", 4, Role.practitioner),
    ("peer-mentor", 5, Role.practitioner),
    ("sysadmin", 0, Role.system_admin),
]

PARTNER_CLIENTS: list[tuple[str, int, list[str]]] = [
    (
        "Prison health record",
        1,
        [Scope.participants_read, Scope.referrals_read, Scope.referrals_write, Scope.records_read],
    ),
    (
        "Probation case management",
        2,
        [Scope.participants_read, Scope.referrals_read, Scope.referrals_write],
    ),
]


def seed(session: Session) -> dict[str, Any]:
    """Create the demo world; returns the credentials to print."""
    orgs = []
    for name, kind in ORGANISATIONS:
        org = Organisation(name=name, kind=kind)
        session.add(org)
        orgs.append(org)
    session.flush()
    password_hash = hash_secret(DEMO_PASSWORD)
    users = []
    for username, org_index, role in USERS:
        user = User(
            username=username,
            role=role,
            organisation_id=orgs[org_index].id,
            password_hash=password_hash,
            display_name=username.replace("-", " ").title(),
        )
        session.add(user)
        users.append(
            {"username": username, "role": role.value, "organisation": orgs[org_index].name}
        )
    clients = []
    for name, org_index, scopes in PARTNER_CLIENTS:
        secret = new_client_secret()
        client = ApiClient(
            name=name,
            scopes=[str(s) for s in scopes],
            organisation_id=orgs[org_index].id,
            client_id=f"demo-{name.lower().replace(' ', '-')}",
            secret_hash=hash_secret(secret),
        )
        session.add(client)
        clients.append(
            {
                "client_id": client.client_id,
                "client_secret": secret,
                "organisation": orgs[org_index].name,
            }
        )
    session.flush()
    return {"password": DEMO_PASSWORD, "users": users, "clients": clients}
