"""Sharing protocols: who manages them, validation, and versions that stay readable."""

import pytest
from fastapi.testclient import TestClient

from app.models.organisation import OrgKind, Role
from tests.fixtures import World

BODY = {
    "name": "Probation risk sharing",
    "source_org_kind": "prison_healthcare",
    "recipient_org_kind": "probation",
    "categories": ["risk"],
    "purposes": ["public_protection", "risk_management"],
    "lawful_basis": "public_task",
    "effective_from": "2026-01-01",
    "approved_by": "Example IG board",
}


@pytest.fixture
def sysadmin(world: World) -> dict[str, str]:
    return world.headers(world.org("Platform", OrgKind.care_coordination), Role.system_admin)


def test_create_read_and_revise_keeps_old_version(client: TestClient, sysadmin) -> None:
    created = client.post("/api/v1/sharing/protocols", json=BODY, headers=sysadmin)
    assert created.status_code == 201, created.text
    pid = created.json()["protocol_id"]
    revised = client.put(
        f"/api/v1/sharing/protocols/{pid}",
        json={**BODY, "categories": ["risk", "custody"]},
        headers=sysadmin,
    )
    assert revised.status_code == 200 and revised.json()["version"] == 2
    current = client.get(f"/api/v1/sharing/protocols/{pid}", headers=sysadmin).json()
    assert current["version"] == 2 and current["categories"] == ["custody", "risk"]
    old = client.get(f"/api/v1/sharing/protocols/{pid}?version=1", headers=sysadmin).json()
    assert old["categories"] == ["risk"] and old["is_current"] is False
    listed = client.get("/api/v1/sharing/protocols", headers=sysadmin).json()["items"]
    assert [p["version"] for p in listed if p["protocol_id"] == pid] == [2]


@pytest.mark.parametrize(
    "change",
    [
        {"categories": []},
        {"categories": ["gossip"]},
        {"source_org_id": "00000000-0000-0000-0000-000000000001"},  # both source kind and id
        {"recipient_org_kind": None},
        {"effective_to": "2025-01-01"},
        {"lawful_basis": "because"},
    ],
)
def test_invalid_protocols_are_422(client: TestClient, sysadmin, change) -> None:
    response = client.post("/api/v1/sharing/protocols", json={**BODY, **change}, headers=sysadmin)
    assert response.status_code == 422


def test_org_admin_manages_only_its_own_outgoing_protocols(
    client: TestClient, world: World
) -> None:
    prison = world.org("Prison", OrgKind.prison_healthcare)
    admin = world.headers(prison, Role.org_admin)
    by_kind = client.post("/api/v1/sharing/protocols", json=BODY, headers=admin)
    assert by_kind.status_code == 403
    own = {**BODY, "source_org_kind": None, "source_org_id": str(prison.id)}
    assert client.post("/api/v1/sharing/protocols", json=own, headers=admin).status_code == 201
    practitioner = world.headers(prison)
    assert (
        client.post("/api/v1/sharing/protocols", json=own, headers=practitioner).status_code == 403
    )
    assert client.get("/api/v1/sharing/protocols", headers=practitioner).status_code == 200
