"""Subject access (issue 14, part 3): every record the world put in, staff not named."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.audit import AccessEvent
from app.models.organisation import Role
from tests.api.care_world import Care, build_care


@pytest.fixture
def care(world, db: Session) -> Care:  # type: ignore[no-untyped-def]
    return build_care(world, db)


def post(client: TestClient, care: Care, tail: str, body: dict, org=None) -> dict:  # type: ignore[no-untyped-def]
    r = client.post(care.url(tail), json=body, headers=care.headers(org or care.coord))
    assert r.status_code == 201, r.text
    return dict(r.json())


def fill(client: TestClient, care: Care) -> dict[str, str]:
    """One record of every kind; returns section -> the id of what was put in."""
    now = datetime.now(UTC)
    goal = post(
        client,
        care,
        "/plan/goals",
        {"title": "Secure a tenancy", "horizon": "short_term_recovery", "life_domain": "housing"},
    )
    action = post(
        client,
        care,
        "/plan/actions",
        {
            "goal_id": goal["id"],
            "description": "Ring the housing line",
            "owner_kind": "participant",
            "due_date": "2030-01-10",
        },
    )
    appointment = post(
        client,
        care,
        "/appointments",
        {
            "kind": "one_to_one",
            "starts_at": (now + timedelta(hours=2)).isoformat(),
            "ends_at": (now + timedelta(hours=3)).isoformat(),
        },
    )
    alert = post(
        client, care, "/alerts", {"kind": "self_harm", "level": "high", "notes": "Synthetic"}
    )
    screening = post(
        client,
        care,
        "/screenings",
        {"instrument": "PHQ-9", "responses": [2, 2, 2, 1, 1, 1, 1, 1, 1]},
    )
    consent = post(
        client,
        care,
        "/consents",
        {
            "categories": ["risk"],
            "recipient_org_ids": [str(care.cmht.id)],
            "purposes": ["direct_care"],
            "method": "verbal",
        },
    )
    restriction = post(
        client,
        care,
        "/restrictions",
        {"categories": ["risk"], "target": "org_kind", "target_org_kind": "housing"},
    )
    referral = client.post(
        "/api/v1/referrals",
        json={
            "participant_id": str(care.pid),
            "to_org_id": str(care.housing.id),
            "reason": "Synthetic",
            "urgency": "soon",
            "categories": ["plan"],
        },
        headers=care.headers(care.coord),
    )
    assert referral.status_code == 201, referral.text
    return {
        "goals": goal["id"],
        "actions": action["id"],
        "appointments": appointment["id"],
        "alerts": alert["id"],
        "screenings": screening["id"],
        "consents": consent["id"],
        "restrictions": restriction["id"],
        "referrals": referral.json()["id"],
    }


def test_lead_admin_gets_every_record_and_no_staff_names(
    client: TestClient, care: Care, db: Session
) -> None:
    put_in = fill(client, care)
    admin = care.world.headers(care.coord, Role.org_admin)
    r = client.get(care.url("/subject-access"), headers=admin)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["schema_version"] == "1" and doc["bounded"] is False
    assert doc["record"]["given_name"] == "Sam"
    for section, rid in put_in.items():
        assert rid in {row["id"] for row in doc["sections"][section]}, section
    assert len(doc["sections"]["care_team"]) == 3
    assert doc["sections"]["plans"] and doc["sections"]["referral_history"] is not None
    assert doc["sections"]["disclosure_log"]
    # Third-party rule: no staff identity anywhere in the document.
    text = json.dumps(doc)
    for key in ('"actor"', '_by"', '"user_id"', '"lead_practitioner_id"', "user:"):
        assert key not in text, key
    events = db.exec(
        select(AccessEvent).where(
            AccessEvent.participant_id == care.pid, AccessEvent.resource == "subject_access"
        )
    ).all()
    assert len(events) == 1 and set(events[0].categories) >= {"mental_health", "risk"}


def test_person_gets_a_bounded_copy_and_others_are_refused(client: TestClient, care: Care) -> None:
    fill(client, care)
    mine = client.get(care.url("/subject-access"), headers=care.me())
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["bounded"] is True
    assert "alerts" not in body["sections"] and "screenings" not in body["sections"]
    assert body["sections"]["restrictions"]
    assert (
        client.get(care.url("/subject-access"), headers=care.headers(care.coord)).status_code == 403
    )
    cmht_admin = care.world.headers(care.cmht, Role.org_admin)
    assert client.get(care.url("/subject-access"), headers=cmht_admin).status_code == 403
    housing_admin = care.world.headers(care.housing, Role.org_admin)
    assert client.get(care.url("/subject-access"), headers=housing_admin).status_code == 404
    assert client.get(care.url("/subject-access")).status_code == 401


def test_date_range_limits_the_sections(client: TestClient, care: Care) -> None:
    fill(client, care)
    admin = care.world.headers(care.coord, Role.org_admin)
    past = {"from": "2020-01-01", "to": "2020-12-31"}
    doc = client.get(care.url("/subject-access"), params=past, headers=admin).json()
    assert all(rows == [] for rows in doc["sections"].values())
    assert doc["record"]["given_name"] == "Sam"
    bad = client.get(
        care.url("/subject-access"),
        params={"from": "2021-01-01", "to": "2020-01-01"},
        headers=admin,
    )
    assert bad.status_code == 422
