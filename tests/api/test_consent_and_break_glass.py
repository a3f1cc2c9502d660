"""Consent recording and withdrawal, the access explanation, break-glass and its review,
and the disclosure log, over HTTP."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.models.break_glass import BreakGlassGrant
from app.models.notice import Notice
from app.models.organisation import OrgKind, Role
from app.models.participant import CareRole
from tests.api.helpers import member, protocol
from tests.fixtures import World

JUSTIFICATION = "Participant disclosed a plan to end their life; GP needs medication history."


class World2:
    def __init__(self, client: TestClient, world: World) -> None:
        self.client, self.world = client, world
        self.coord = world.org("Coordination", OrgKind.care_coordination)
        self.cmht = world.org("CMHT", OrgKind.community_mental_health)
        lead = world.user(self.coord, Role.practitioner)
        from app.auth.issue import token_for_user

        self.lead_headers = {
            "Authorization": f"Bearer {token_for_user(lead, self.coord).access_token}"
        }
        self.pid = client.post(
            "/api/v1/participants",
            json={"given_name": "Riley", "family_name": "Synthetic", "phone": "07700 900555"},
            headers=self.lead_headers,
        ).json()["id"]
        member(world.session, uuid.UUID(self.pid), self.cmht)
        self.protocol = protocol(
            world.session,
            source="care_coordination",
            recipient="community_mental_health",
            categories=["identity", "contact"],
            basis="consent",
            name="Community mental-health continuity",
        )

    def url(self, tail: str = "") -> str:
        return f"/api/v1/participants/{self.pid}{tail}"

    def give_consent(self, **overrides: object) -> dict:
        body = {
            "categories": ["identity", "contact"],
            "recipient_org_ids": [str(self.cmht.id)],
            "purposes": ["direct_care"],
            "method": "written",
            "evidence_ref": "Scanned form 2026-11 #12",
            **overrides,
        }
        response = self.client.post(self.url("/consents"), json=body, headers=self.lead_headers)
        assert response.status_code == 201, response.text
        return response.json()


@pytest.fixture
def w(client: TestClient, world: World) -> World2:
    return World2(client, world)


def test_consent_then_withdrawal_takes_effect_on_next_request(w: World2) -> None:
    cmht = w.world.headers(w.cmht)
    assert "phone" not in w.client.get(w.url(), headers=cmht).json()
    given = w.give_consent()
    assert given["status"] == "active"
    assert w.client.get(w.url(), headers=cmht).json()["phone"] == "07700 900555"
    withdrawn = w.client.post(
        w.url(f"/consents/{given['id']}/withdraw"),
        json={"reason": "Changed my mind"},
        headers=w.lead_headers,
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    body = w.client.get(w.url(), headers=cmht).json()
    assert "phone" not in body and "given_name" not in body
    assert {x["category"]: x["reason"] for x in body["withheld"]}["contact"] == (
        "consent_withdrawn"
    )
    history = w.client.get(w.url("/consents"), headers=w.lead_headers).json()
    assert [c["status"] for c in history] == ["withdrawn"]


def test_participant_can_withdraw_own_consent_but_not_record_one(w: World2) -> None:
    given = w.give_consent()
    me = w.world.headers(w.coord, Role.participant, participant_id=uuid.UUID(w.pid))
    body = {
        "categories": ["contact"],
        "recipient_org_ids": [str(w.cmht.id)],
        "purposes": ["direct_care"],
        "method": "verbal",
    }
    assert w.client.post(w.url("/consents"), json=body, headers=me).status_code == 403
    response = w.client.post(
        w.url(f"/consents/{given['id']}/withdraw"), json={"reason": "I no longer agree"}, headers=me
    )
    assert response.status_code == 200


def test_written_consent_needs_evidence(w: World2) -> None:
    body = {
        "categories": ["contact"],
        "recipient_org_kinds": ["housing"],
        "purposes": ["direct_care"],
        "method": "written",
    }
    response = w.client.post(w.url("/consents"), json=body, headers=w.lead_headers)
    assert response.status_code == 422


def test_access_explanation_names_protocol_and_consent(w: World2) -> None:
    cmht = w.world.headers(w.cmht)
    before = w.client.get(w.url("/access?category=contact"), headers=cmht).json()
    (decision,) = before["decisions"]
    assert decision == {**decision, "allowed": False, "reason": "no_consent"}
    given = w.give_consent()
    (decision,) = w.client.get(w.url("/access?category=contact"), headers=cmht).json()["decisions"]
    assert decision["allowed"] and decision["basis"] == "consent"
    assert decision["consent_id"] == given["id"]
    assert decision["protocol_id"] == str(w.protocol.protocol_id)
    assert any("rule 4" in step for step in decision["trace"])


def test_break_glass_grants_time_limited_access_and_alerts_lead(w: World2) -> None:
    nurse = w.world.headers(w.cmht)
    assert "phone" not in w.client.get(w.url(), headers=nurse).json()
    short = w.client.post(
        w.url("/break-glass"),
        headers=nurse,
        json={"reason_code": "risk_to_life", "justification": "urgent", "categories": ["contact"]},
    )
    assert short.status_code == 422
    grant = w.client.post(
        w.url("/break-glass"),
        headers=nurse,
        json={
            "reason_code": "risk_to_life",
            "justification": JUSTIFICATION,
            "categories": ["contact"],
        },
    )
    assert grant.status_code == 201, grant.text
    # The grant belongs to the user who broke the glass, not to their whole organisation.
    assert "phone" not in w.client.get(w.url(), headers=w.world.headers(w.cmht)).json()
    notice = w.world.session.exec(
        select(Notice).where(Notice.organisation_id == w.coord.id, Notice.kind == "break_glass")
    ).one()
    assert notice.subject_id == grant.json()["id"]


def test_break_glass_access_ends_when_the_grant_expires(w: World2) -> None:
    from app.auth.issue import token_for_user

    nurse_user = w.world.user(w.cmht, Role.practitioner)
    headers = {"Authorization": f"Bearer {token_for_user(nurse_user, w.cmht).access_token}"}
    grant = w.client.post(
        w.url("/break-glass"),
        headers=headers,
        json={
            "reason_code": "risk_to_life",
            "justification": JUSTIFICATION,
            "categories": ["contact"],
        },
    ).json()
    assert w.client.get(w.url(), headers=headers).json()["phone"] == "07700 900555"
    row = w.world.session.get(BreakGlassGrant, uuid.UUID(grant["id"]))
    assert row is not None
    row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    w.world.session.add(row)
    w.world.session.commit()
    assert "phone" not in w.client.get(w.url(), headers=headers).json()


def test_break_glass_roles_and_review(w: World2) -> None:
    admin = w.world.headers(w.cmht, Role.org_admin)
    response = w.client.post(
        w.url("/break-glass"),
        headers=admin,
        json={
            "reason_code": "safeguarding",
            "justification": JUSTIFICATION,
            "categories": ["risk"],
        },
    )
    assert response.status_code == 403  # org admins lack the break_glass scope
    grant = w.client.post(
        w.url("/break-glass"),
        headers=w.world.headers(w.cmht),
        json={
            "reason_code": "safeguarding",
            "justification": JUSTIFICATION,
            "categories": ["risk"],
        },
    ).json()
    supervisor = w.world.headers(w.coord, Role.supervisor)
    queue = w.client.get("/api/v1/break-glass?reviewed=false", headers=supervisor).json()
    assert grant["id"] in {g["id"] for g in queue["items"]}
    practitioner_queue = w.client.get("/api/v1/break-glass", headers=w.lead_headers)
    assert practitioner_queue.status_code == 403
    review = w.client.post(
        f"/api/v1/break-glass/{grant['id']}/review",
        headers=supervisor,
        json={"outcome": "justified", "note": "Appropriate."},
    )
    assert review.status_code == 200 and review.json()["review_outcome"] == "justified"
    again = w.client.post(
        f"/api/v1/break-glass/{grant['id']}/review",
        headers=supervisor,
        json={"outcome": "not_justified"},
    )
    assert again.status_code == 409


def test_disclosure_log_in_plain_language(w: World2) -> None:
    w.give_consent()
    w.client.get(w.url(), headers=w.world.headers(w.cmht))
    me = w.world.headers(w.coord, Role.participant, participant_id=uuid.UUID(w.pid))
    log = w.client.get(w.url("/disclosures"), headers=me)
    assert log.status_code == 200
    texts = [e["text"] for e in log.json()["items"]]
    assert any(
        t.startswith(
            f"{w.cmht.name} saw your contact details and identity details with your consent on "
        )
        for t in texts
    ), texts
    assert w.client.get(w.url("/disclosures"), headers=w.lead_headers).status_code == 200
    other = w.client.get(w.url("/disclosures"), headers=w.world.headers(w.cmht))
    assert other.status_code == 403


def test_care_team_changes_only_by_lead(w: World2) -> None:
    housing = w.world.org("Housing", OrgKind.housing)
    refused = w.client.post(
        w.url("/care-team"),
        headers=w.world.headers(w.cmht),
        json={"organisation_id": str(housing.id)},
    )
    assert refused.status_code == 403
    added = w.client.post(
        w.url("/care-team"), headers=w.lead_headers, json={"organisation_id": str(housing.id)}
    )
    assert added.status_code == 201
    duplicate = w.client.post(
        w.url("/care-team"), headers=w.lead_headers, json={"organisation_id": str(housing.id)}
    )
    assert duplicate.status_code == 409
    assert w.client.get(w.url(), headers=w.world.headers(housing)).status_code == 200
    ended = w.client.delete(w.url(f"/care-team/{added.json()['id']}"), headers=w.lead_headers)
    assert ended.status_code == 200 and ended.json()["active"] is False
    assert w.client.get(w.url(), headers=w.world.headers(housing)).status_code == 404


def test_participant_tokens_get_no_notices(w: World2) -> None:
    """Notices name other people's records: a participant account of the organisation must
    neither read nor acknowledge them."""
    w.client.post(
        w.url("/break-glass"),
        headers=w.world.headers(w.cmht),
        json={
            "reason_code": "risk_to_life",
            "justification": JUSTIFICATION,
            "categories": ["risk"],
        },
    )
    staff = w.client.get("/api/v1/notices", headers=w.lead_headers).json()["items"]
    assert staff, "the lead organisation is alerted"
    me = w.world.headers(w.coord, Role.participant, participant_id=uuid.UUID(w.pid))
    assert w.client.get("/api/v1/notices", headers=me).status_code == 403
    ack = w.client.post(f"/api/v1/notices/{staff[0]['id']}/acknowledge", headers=me)
    assert ack.status_code == 403


def test_former_lead_does_not_see_break_glass_justifications(w: World2) -> None:
    former = w.world.org("Former lead", OrgKind.housing)
    member(
        w.world.session,
        uuid.UUID(w.pid),
        former,
        role=CareRole.lead,
        until=datetime.now(UTC) - timedelta(days=1),
    )
    grant = w.client.post(
        w.url("/break-glass"),
        headers=w.world.headers(w.cmht),
        json={
            "reason_code": "risk_to_life",
            "justification": JUSTIFICATION,
            "categories": ["risk"],
        },
    ).json()
    queue = w.client.get(
        "/api/v1/break-glass", headers=w.world.headers(former, Role.supervisor)
    ).json()["items"]
    assert grant["id"] not in {g["id"] for g in queue}
    current = w.client.get(
        "/api/v1/break-glass", headers=w.world.headers(w.coord, Role.supervisor)
    ).json()["items"]
    assert grant["id"] in {g["id"] for g in current}


def test_consent_notes_stay_with_their_recorder_and_the_person(w: World2) -> None:
    given = w.give_consent(notes="Talked it through at length; synthetic note.")
    assert given["notes"]
    listed = w.client.get(w.url("/consents"), headers=w.world.headers(w.cmht)).json()
    assert [c["id"] for c in listed] == [given["id"]]
    assert listed[0]["notes"] is None and listed[0]["evidence_ref"] is None
    me = w.world.headers(w.coord, Role.participant, participant_id=uuid.UUID(w.pid))
    mine = w.client.get(w.url("/consents"), headers=me).json()
    assert mine[0]["notes"] == "Talked it through at length; synthetic note."


def test_withdrawal_needs_consents_write(w: World2) -> None:
    given = w.give_consent()
    reader = w.world.headers(w.coord, scope="participants:read consents:read")
    res = w.client.post(
        w.url(f"/consents/{given['id']}/withdraw"), json={"reason": "Asked to"}, headers=reader
    )
    assert res.status_code == 403
    history = w.client.get(w.url("/consents"), headers=w.lead_headers).json()
    assert [c["status"] for c in history] == ["active"]
    # The contract partner systems generate clients from says so too.
    from app.main import app

    path = "/api/v1/participants/{participant_id}/consents/{consent_id}/withdraw"
    assert app.openapi()["paths"][path]["post"]["security"] == [{"oauth2": ["consents:write"]}]
