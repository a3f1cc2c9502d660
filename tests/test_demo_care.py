"""The demo care record seeds cleanly and reads back through the API."""

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.demo_care import seed_care_record
from app.models.organisation import Role
from app.models.participant import CareRole, Participant
from tests.api.care_world import member
from tests.fixtures import World


def test_demo_care_record(client: TestClient, world: World, db: Session) -> None:
    orgs = {
        kind: world.org(kind, kind)
        for kind in (
            "care_coordination",
            "prison_healthcare",
            "probation",
            "community_mental_health",
            "housing",
            "peer_support",
        )
    }
    coordinator = world.user(orgs["care_coordination"])
    participant = Participant(
        given_name="Demo", family_name="Person", source_org_id=orgs["care_coordination"].id
    )
    db.add(participant)
    db.flush()
    member(db, participant, orgs["care_coordination"], CareRole.lead)
    seed_care_record(db, orgs, {"coordinator": coordinator}, [participant])
    headers = world.headers(orgs["care_coordination"], Role.practitioner)
    db.commit()
    plan = client.get(f"/api/v1/participants/{participant.id}/plan", headers=headers).json()
    assert len(plan["goals"]) >= 4 and plan["reviews"] == 1
    domains = {g["life_domain"] for g in plan["goals"]}
    assert {"housing", "relationships", "benefits"} <= domains
    version = client.get(f"/api/v1/participants/{participant.id}/plan/versions/1", headers=headers)
    assert version.status_code == 200
    appts = client.get(
        f"/api/v1/participants/{participant.id}/appointments", headers=headers
    ).json()
    kinds = {a["kind"] for a in appts["items"]}
    assert "gate_meeting" in kinds
    missed = client.get("/api/v1/appointments/missed", headers=headers).json()
    assert len(missed["items"]) == 1
    me = world.headers(orgs["care_coordination"], Role.participant, participant_id=participant.id)
    workbook = client.get(f"/api/v1/participants/{participant.id}/plan/workbook", headers=me).json()
    assert workbook["my_steps"]
