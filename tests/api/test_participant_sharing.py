"""Per organisation kind and role: exactly which participant fields come back, and audit."""

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from app.models.audit import AccessEvent
from app.models.organisation import OrgKind, Role
from app.sharing.audit import stripe_for
from tests.api.helpers import FULL_PARTICIPANT, METADATA, consent, fields_for, member, protocol
from tests.fixtures import World


class Scenario:
    def __init__(self, client: TestClient, world: World) -> None:
        self.client, self.world = client, world
        self.coord = world.org("Coordination", OrgKind.care_coordination)
        self.probation = world.org("Probation", OrgKind.probation)
        self.cmht = world.org("CMHT", OrgKind.community_mental_health)
        self.housing = world.org("Housing", OrgKind.housing)
        self.prison = world.org("Prison health", OrgKind.prison_healthcare)
        response = client.post(
            "/api/v1/participants", json=FULL_PARTICIPANT, headers=world.headers(self.coord)
        )
        assert response.status_code == 201, response.text
        self.pid = response.json()["id"]
        self.uuid = uuid.UUID(self.pid)
        for org in (self.probation, self.cmht, self.housing):
            member(world.session, self.uuid, org)
        protocol(
            world.session,
            source="care_coordination",
            recipient="probation",
            categories=["identity", "custody", "risk"],
            basis="public_task",
        )
        protocol(
            world.session,
            source="care_coordination",
            recipient="community_mental_health",
            categories=["identity", "contact", "mental_health"],
            basis="consent",
        )

    def read(self, org: Any, role: Role = Role.practitioner, **kw: Any) -> Any:
        return self.client.get(
            f"/api/v1/participants/{self.pid}", headers=self.world.headers(org, role, **kw)
        )


@pytest.fixture
def scenario(client: TestClient, world: World) -> Scenario:
    return Scenario(client, world)


def personal(body: dict[str, Any]) -> set[str]:
    return set(body) - METADATA


def withheld(body: dict[str, Any]) -> dict[str, str]:
    return {w["category"]: w["reason"] for w in body["withheld"]}


@pytest.mark.parametrize("role", [Role.practitioner, Role.supervisor, Role.org_admin])
def test_source_organisation_sees_everything(scenario: Scenario, role: Role) -> None:
    body = scenario.read(scenario.coord, role).json()
    assert personal(body) == fields_for(
        "identity", "contact", "protected_characteristics", "custody", "plan"
    )
    assert body["withheld"] == []


def test_probation_sees_public_task_categories_only(scenario: Scenario) -> None:
    body = scenario.read(scenario.probation).json()
    assert personal(body) == fields_for("identity", "custody")
    assert withheld(body) == {
        "contact": "no_protocol",
        "protected_characteristics": "no_protocol",
        "plan": "no_protocol",
    }
    assert body["given_name"] == "Sam" and "phone" not in body


def test_cmht_needs_consent_then_sees_consented_categories(scenario: Scenario) -> None:
    body = scenario.read(scenario.cmht).json()
    assert personal(body) == set()
    assert withheld(body)["identity"] == "no_consent"
    consent(
        scenario.world.session,
        scenario.uuid,
        scenario.coord,
        categories=["identity", "contact"],
        recipient=scenario.cmht,
    )
    body = scenario.read(scenario.cmht).json()
    assert personal(body) == fields_for("identity", "contact")


def test_care_team_member_without_protocol_sees_no_personal_field(scenario: Scenario) -> None:
    body = scenario.read(scenario.housing).json()
    assert personal(body) == set()
    assert set(withheld(body)) == {
        "identity",
        "contact",
        "protected_characteristics",
        "custody",
        "plan",
    }


def test_unrelated_organisation_gets_404_and_a_denial_row(scenario: Scenario) -> None:
    response = scenario.read(scenario.prison)
    assert response.status_code == 404
    assert "Sam" not in response.text
    row = scenario.world.session.exec(
        select(AccessEvent).where(
            AccessEvent.participant_id == scenario.uuid,
            AccessEvent.actor_org_id == scenario.prison.id,
        )
    ).one()
    assert row.outcome == "denied" and row.categories == []


def test_unrelated_organisation_does_not_find_them_in_lists(scenario: Scenario) -> None:
    items = scenario.client.get(
        "/api/v1/participants", headers=scenario.world.headers(scenario.prison)
    ).json()["items"]
    assert scenario.pid not in {i["id"] for i in items}
    items = scenario.client.get(
        "/api/v1/participants", headers=scenario.world.headers(scenario.probation)
    ).json()["items"]
    (mine,) = [i for i in items if i["id"] == scenario.pid]
    assert personal(mine) == fields_for("identity", "custody")


def test_ended_membership_ends_visibility(scenario: Scenario) -> None:
    from datetime import UTC, datetime, timedelta

    other = scenario.world.org("Former", OrgKind.voluntary)
    member(
        scenario.world.session, scenario.uuid, other, until=datetime.now(UTC) - timedelta(minutes=1)
    )
    assert scenario.read(other).status_code == 404


def test_participant_sees_own_record_only(scenario: Scenario) -> None:
    body = scenario.read(scenario.coord, Role.participant, participant_id=scenario.uuid).json()
    assert personal(body) == fields_for(
        "identity", "contact", "protected_characteristics", "custody", "plan"
    )
    other = scenario.client.post(
        "/api/v1/participants",
        json={"given_name": "Other", "family_name": "Person"},
        headers=scenario.world.headers(scenario.coord),
    ).json()["id"]
    response = scenario.client.get(
        f"/api/v1/participants/{other}",
        headers=scenario.world.headers(
            scenario.coord, Role.participant, participant_id=scenario.uuid
        ),
    )
    assert response.status_code == 404
    listed = scenario.client.get(
        "/api/v1/participants",
        headers=scenario.world.headers(
            scenario.coord, Role.participant, participant_id=scenario.uuid
        ),
    ).json()["items"]
    assert [i["id"] for i in listed] == [scenario.pid]


def test_every_read_writes_one_audit_row_with_the_disclosed_categories(
    scenario: Scenario,
) -> None:
    session = scenario.world.session
    # Every event about this person is on their stripe's chain (docs/decisions/0002).
    stripe = stripe_for(scenario.uuid)
    on_stripe = select(AccessEvent.seq).where(AccessEvent.stripe == stripe)
    before = session.exec(on_stripe.order_by(col(AccessEvent.seq).desc())).first()
    response = scenario.read(scenario.probation)
    rows = session.exec(
        select(AccessEvent).where(
            AccessEvent.stripe == stripe, col(AccessEvent.seq) > (before or 0)
        )
    ).all()
    assert len(rows) == 1
    (row,) = rows
    assert row.outcome == "allowed" and row.actor_org_id == scenario.probation.id
    assert set(row.categories) == {"identity", "custody"}
    assert {b["category"]: b["basis"] for b in row.basis} == {
        "identity": "protocol",
        "custody": "protocol",
    }
    assert row.request_id == response.headers["x-request-id"]


def test_missing_scope_is_403_and_anonymous_is_401(scenario: Scenario) -> None:
    url = f"/api/v1/participants/{scenario.pid}"
    assert scenario.client.get(url).status_code == 401
    headers = scenario.world.headers(scenario.coord, scope="plans:read")
    assert scenario.client.get(url, headers=headers).status_code == 403
