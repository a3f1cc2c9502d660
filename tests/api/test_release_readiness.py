"""Release readiness against hand-worked examples, including items withheld from the caller."""

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.models.directory import Service, Setting
from app.models.organisation import Organisation, OrgKind
from app.models.participant import CareRole, CareTeamMember, Participant, Phase
from app.models.referral import Referral, ReferralStatus, Urgency
from tests.api.referral_world import add_consent, add_participant, add_protocol
from tests.fixtures import World


def _referral(
    db: Session,
    participant: Participant,
    from_org: Organisation,
    to_org: Organisation,
    status: ReferralStatus,
    service: Service | None = None,
) -> str:
    row = Referral(
        participant_id=participant.id,
        from_org_id=from_org.id,
        to_org_id=to_org.id,
        service_id=service.id if service else None,
        reason="Synthetic example",
        urgency=Urgency.routine,
        categories=["identity"],
        status=status,
        created_by="test",
    )
    db.add(row)
    db.flush()
    return str(row.id)


def _items(body: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    return {i["key"]: (i["status"], i["evidence_ids"]) for i in body["items"]}


@pytest.fixture
def example(world: World, db: Session) -> dict[str, Any]:
    """Sam, released in 10 days, referred by the coordinator to five services."""
    coord = world.org("Coordination", OrgKind.care_coordination)
    housing = world.org("Housing", OrgKind.housing)
    gp = world.org("Surgery", OrgKind.primary_care)
    cmht = world.org("CMHT", OrgKind.community_mental_health)
    drugs = world.org("Recovery", OrgKind.substance_misuse)
    advice = world.org("Advice", OrgKind.voluntary)
    welfare = Service(
        provider_org_id=advice.id,
        name="Benefits on release",
        setting=Setting.both,
        categories=["benefits"],
        exclusions=[],
        criminal_record_exclusions=[],
        accepts_throughcare_referrals=True,
        created_by="test",
    )
    db.add(welfare)
    sam = add_participant(db, coord, release_in_days=10)
    ids = {
        "housing": _referral(db, sam, coord, housing, ReferralStatus.accepted),
        "gp": _referral(db, sam, coord, gp, ReferralStatus.submitted),
        "cmht": _referral(db, sam, coord, cmht, ReferralStatus.in_progress),
        "benefits": _referral(db, sam, coord, advice, ReferralStatus.completed, welfare),
        "declined": _referral(db, sam, coord, housing, ReferralStatus.declined),
    }
    consent = add_consent(db, sam, ["contact"], housing)
    # CMHT joined the care team; its protocol from the coordinator covers identity only.
    db.add(
        CareTeamMember(
            participant_id=sam.id,
            organisation_id=cmht.id,
            role=CareRole.contributor,
            source_org_id=cmht.id,
            added_by="test",
        )
    )
    add_protocol(db, OrgKind.care_coordination, OrgKind.community_mental_health, ["identity"])
    # CMHT's own onward referral to substance-misuse services, accepted.
    ids["cmht_own"] = _referral(db, sam, cmht, drugs, ReferralStatus.accepted)
    db.commit()
    return {"sam": sam, "coord": coord, "cmht": cmht, "ids": ids, "consent": str(consent.id)}


def _url(pid: uuid.UUID) -> str:
    return f"/api/v1/participants/{pid}/release-readiness"


class TestReleaseReadiness:
    def test_anonymous_401(self, client: TestClient, example: dict[str, Any]) -> None:
        assert client.get(_url(example["sam"].id)).status_code == 401

    def test_missing_scope_403(
        self, client: TestClient, world: World, example: dict[str, Any]
    ) -> None:
        h = world.headers(example["coord"], scope="referrals:read")
        assert client.get(_url(example["sam"].id), headers=h).status_code == 403

    def test_not_visible_404(
        self, client: TestClient, world: World, example: dict[str, Any]
    ) -> None:
        h = world.headers(world.org("Stranger", OrgKind.probation))
        assert client.get(_url(example["sam"].id), headers=h).status_code == 404

    def test_coordinator_sees_the_whole_checklist(
        self, client: TestClient, world: World, example: dict[str, Any]
    ) -> None:
        ids = example["ids"]
        res = client.get(_url(example["sam"].id), headers=world.headers(example["coord"]))
        assert res.status_code == 200, res.text
        body = res.json()
        assert body["release_date"] == (date.today() + timedelta(days=10)).isoformat()
        assert body["days_to_release"] == 10
        assert _items(body) == {
            "accommodation": ("met", [ids["housing"]]),  # the declined one is not evidence
            # Its own GP referral is only submitted, and the CMHT's onward referral is
            # withheld from it (no protocol): that one could be a GP referral, so unknown.
            "gp_registration": ("unknown", []),
            "community_treatment": ("met", [ids["cmht"]]),  # the coordinator's own referrals
            "benefits_claim": ("met", [ids["benefits"]]),  # via the service's category
            # No plan and no appointments yet (the care-record evidence is in
            # tests/api/test_release_evidence.py).
            "medication_on_release": ("not_met", []),
            "gate_meeting": ("not_met", []),
            "contact_confirmed": ("met", [example["consent"]]),
            "reporting_instructions": ("not_met", []),
        }
        assert body["open_items"] == [
            "gp_registration", "medication_on_release", "gate_meeting", "reporting_instructions",
        ]  # fmt: skip
        assert body["withheld"] == []

    def test_cmht_sees_unknown_where_withheld(
        self, client: TestClient, world: World, example: dict[str, Any]
    ) -> None:
        res = client.get(_url(example["sam"].id), headers=world.headers(example["cmht"]))
        body = res.json()
        items = _items(body)
        # The coordinator's referrals to others, contact details and custody dates are
        # withheld.
        assert items["accommodation"] == ("unknown", [])
        assert items["gp_registration"] == ("unknown", [])
        assert items["benefits_claim"] == ("unknown", [])
        assert items["contact_confirmed"] == ("unknown", [])
        # ... but the referral addressed to it is one it reads (GET /referrals/{id}
        # answers it too), and its own onward referral is its own record.
        assert items["community_treatment"] == (
            "met",
            [example["ids"]["cmht"], example["ids"]["cmht_own"]],
        )
        # No plan records to withhold; the gate meeting needs the withheld release date,
        # and so does the appointment route of the reporting instructions.
        assert items["medication_on_release"] == ("not_met", [])
        assert items["gate_meeting"] == ("unknown", [])
        assert items["reporting_instructions"] == ("unknown", [])
        assert "not_recorded" not in {s for s, _ in items.values()}
        assert body["release_date"] is None
        assert body["withheld"] == [{"category": "custody", "reason": "no_protocol"}]
        notes = {i["key"]: i["note"] for i in body["items"]}
        assert "no_protocol" in notes["accommodation"]

    def test_nothing_arranged_is_not_met(
        self, client: TestClient, world: World, db: Session
    ) -> None:
        coord = world.org("Coordination", OrgKind.care_coordination)
        alex = add_participant(db, coord, release_in_days=3, phone=None)
        res = client.get(_url(alex.id), headers=world.headers(coord))
        items = _items(res.json())
        for key in ("accommodation", "gp_registration", "community_treatment", "benefits_claim"):
            assert items[key] == ("not_met", [])
        assert items["contact_confirmed"] == ("not_met", [])  # no contact details at all
        assert len(res.json()["open_items"]) == 8


class TestUpcomingReleases:
    URL = "/api/v1/caseload/releases"

    def test_anonymous_401(self, client: TestClient) -> None:
        assert client.get(self.URL).status_code == 401

    def test_missing_scope_403(self, client: TestClient, world: World) -> None:
        h = world.headers(world.org("C", OrgKind.care_coordination), scope="referrals:read")
        assert client.get(self.URL, headers=h).status_code == 403

    def test_within_days(
        self, client: TestClient, world: World, db: Session, example: dict[str, Any]
    ) -> None:
        coord = example["coord"]
        later = add_participant(db, coord, release_in_days=30)
        add_participant(db, coord, release_in_days=5, phase=Phase.community)  # already out
        stranger = world.org("Elsewhere", OrgKind.probation)
        add_participant(db, stranger, release_in_days=2)  # not the caller's
        h = world.headers(coord)
        soon = client.get(self.URL, params={"within_days": 14}, headers=h).json()["items"]
        assert [r["participant_id"] for r in soon] == [str(example["sam"].id)]
        assert soon[0]["days_to_release"] == 10
        assert soon[0]["open_items"] == [
            "gp_registration", "medication_on_release", "gate_meeting", "reporting_instructions",
        ]  # fmt: skip
        month = client.get(self.URL, params={"within_days": 40}, headers=h).json()["items"]
        assert [r["participant_id"] for r in month] == [str(example["sam"].id), str(later.id)]
        # The CMHT may not see custody dates, so nobody is listed for it.
        cmht = client.get(self.URL, headers=world.headers(example["cmht"])).json()
        assert cmht == {"items": [], "next_cursor": None}

    def test_pages_skip_withheld_custody_without_a_trace(
        self, client: TestClient, world: World, db: Session, example: dict[str, Any]
    ) -> None:
        """A page of one is full and its cursor leads on, even past rows the caller may not
        date: their existence shows neither as a short page nor as an extra cursor."""
        coord = example["coord"]
        add_participant(db, coord, release_in_days=12)
        h = world.headers(coord)
        first = client.get(self.URL, params={"within_days": 40, "limit": 1}, headers=h).json()
        assert len(first["items"]) == 1 and first["next_cursor"]
        second = client.get(
            self.URL,
            params={"within_days": 40, "limit": 1, "cursor": first["next_cursor"]},
            headers=h,
        ).json()
        assert len(second["items"]) == 1
        assert second["items"][0]["participant_id"] != first["items"][0]["participant_id"]
        cmht = client.get(
            self.URL, params={"limit": 1}, headers=world.headers(example["cmht"])
        ).json()
        assert cmht == {"items": [], "next_cursor": None}

    def test_bad_window_422(self, client: TestClient, world: World) -> None:
        h = world.headers(world.org("C", OrgKind.care_coordination))
        assert client.get(self.URL, params={"within_days": -1}, headers=h).status_code == 422
