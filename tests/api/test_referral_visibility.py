"""One referral-visibility rule: the referral read, the boxes and release readiness agree,
and a closed referral leaves its recipient nothing of the person (issue 8, hole 8).

The world (all synthetic): the coordinator leads Sam's care and refers Sam to housing
(accepted), to a GP surgery (declined) and to recovery services (in progress). Probation
is on the care team with a protocol for the coordinator's `referrals`; the CMHT is on the
care team with a protocol for identity only.
"""

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.models.audit import AccessEvent
from app.models.organisation import Organisation, OrgKind, Role
from app.models.participant import CareRole, CareTeamMember, Participant
from app.models.referral import ReferralStatus
from app.sharing.categories import Purpose
from app.sharing.decision import Allow, CallerFacts, Deny
from app.sharing.visibility import (
    ReferralParties,
    ReferralSight,
    covered_by_referral,
    referral_sight,
)
from tests.api.referral_world import URL, ReferralWorld, add_protocol, make_referral_world
from tests.fixtures import World

PERSON_FIELDS = {"participant_id", "reason", "categories", "urgency", "created_by", "outcome"}


def _member(db: Session, participant: Participant, org: Organisation) -> None:
    db.add(
        CareTeamMember(
            participant_id=participant.id,
            organisation_id=org.id,
            role=CareRole.contributor,
            source_org_id=participant.source_org_id,
            added_by="test",
        )
    )
    db.commit()


@pytest.fixture
def rw(world: World, db: Session, client: TestClient) -> ReferralWorld:
    return make_referral_world(world, db, client)


def _submitted(rw: ReferralWorld, to: Organisation | None = None) -> str:
    to_org = to or rw.housing
    return str(rw.create(submit=True, to_org_id=str(to_org.id))["id"])


def _events(db: Session, org: Organisation, resource: str = "referral") -> list[AccessEvent]:
    return list(
        db.exec(
            select(AccessEvent)
            .where(AccessEvent.actor_org_id == org.id, AccessEvent.resource == resource)
            .order_by(col(AccessEvent.seq))
        ).all()
    )


class TestClosedReferralForRecipient:
    """Hole 8: after decline or withdrawal the recipient keeps only its own record."""

    def _assert_closed_view(self, body: dict[str, Any], rw: ReferralWorld, rid: str) -> None:
        assert body["id"] == rid
        assert body["from_org_id"] == str(rw.coord.id)
        assert body["to_org_id"] == str(rw.housing.id)
        assert body["created_at"] and body["updated_at"] and body["submitted_at"]
        assert not PERSON_FIELDS & set(body), body
        assert body.get("transitions", []) == []
        assert body["withheld"] == [{"category": "referrals", "reason": "referral_closed"}]
        assert str(rw.participant.id) not in str(body)

    def test_declined_referral_read_by_recipient(self, rw: ReferralWorld) -> None:
        rid = _submitted(rw)
        res = rw.act(rid, "decline", rw.recipient(), reason="No vacancy this month.")
        assert res.status_code == 200, res.text
        self._assert_closed_view(res.json(), rw, rid)  # the answer to the decline itself
        res = rw.client.get(f"{URL}/{rid}", headers=rw.recipient())
        assert res.status_code == 200, res.text
        body = res.json()
        self._assert_closed_view(body, rw, rid)
        assert body["status"] == "declined"
        assert body["decline_reason"] == "No vacancy this month."  # its own reason
        # Read recorded against the person, but disclosing no category of theirs.
        last = _events(rw.db, rw.housing)[-1]
        assert last.participant_id == rw.participant.id
        assert (last.action, last.outcome, last.categories) == ("read", "allowed", [])
        me = rw.world.headers(rw.coord, Role.participant, participant_id=rw.participant.id)
        log = rw.client.get(f"/api/v1/participants/{rw.participant.id}/disclosures", headers=me)
        texts = [e["text"] for e in log.json()["items"]]
        assert any(t.startswith(f"{rw.housing.name} looked at its own record") for t in texts)

    def test_withdrawn_referral_read_by_recipient(self, rw: ReferralWorld) -> None:
        rid = _submitted(rw)
        assert rw.act(rid, "withdraw", rw.referrer()).status_code == 200
        res = rw.client.get(f"{URL}/{rid}", headers=rw.recipient())
        assert res.status_code == 200, res.text
        self._assert_closed_view(res.json(), rw, rid)
        assert res.json()["status"] == "withdrawn"

    def test_inbox_lists_closed_referral_without_the_person(self, rw: ReferralWorld) -> None:
        closed, open_ = _submitted(rw), _submitted(rw)
        rw.act(closed, "decline", rw.recipient(), reason="Outside our area.")
        res = rw.client.get(URL, params={"box": "inbox"}, headers=rw.recipient())
        assert res.status_code == 200, res.text
        items = {i["id"]: i for i in res.json()["items"]}
        assert set(items) == {closed, open_}
        self._assert_closed_view(items[closed], rw, closed)
        assert items[open_]["participant_id"] == str(rw.participant.id)
        assert items[open_]["reason"]

    def test_referrer_still_reads_everything(self, rw: ReferralWorld) -> None:
        rid = _submitted(rw)
        rw.act(rid, "decline", rw.recipient(), reason="No vacancy this month.")
        body = rw.client.get(f"{URL}/{rid}", headers=rw.referrer()).json()
        assert body["participant_id"] == str(rw.participant.id)
        assert body["reason"] and body["withheld"] == []
        assert [t["to_status"] for t in body["transitions"]] == ["draft", "submitted", "declined"]

    def test_recipient_with_a_sharing_basis_reads_it_in_full(self, rw: ReferralWorld) -> None:
        # On the care team, with a protocol for the coordinator's referrals: rules 2-3 allow
        # it, so closing the referral takes nothing away.
        _member(rw.db, rw.participant, rw.housing)
        add_protocol(rw.db, OrgKind.care_coordination, OrgKind.housing, ["referrals"])
        rw.db.commit()
        rid = _submitted(rw)
        rw.act(rid, "decline", rw.recipient(), reason="No vacancy this month.")
        body = rw.client.get(f"{URL}/{rid}", headers=rw.recipient()).json()
        assert body["participant_id"] == str(rw.participant.id)
        assert len(body["transitions"]) == 3


class TestOneRule:
    """Issue 8 section 1: reads, boxes and readiness evidence answer from one rule."""

    @pytest.fixture
    def setup(self, rw: ReferralWorld) -> dict[str, Any]:
        gp = rw.world.org("Surgery", OrgKind.primary_care)
        drugs = rw.world.org("Recovery", OrgKind.substance_misuse)
        probation = rw.world.org("Probation", OrgKind.probation)
        cmht = rw.world.org("CMHT", OrgKind.community_mental_health)
        for org in (gp, drugs):
            add_protocol(rw.db, OrgKind.care_coordination, org.kind, ["identity", "custody"])
        add_protocol(rw.db, OrgKind.care_coordination, OrgKind.probation, ["referrals"])
        cmht_kind = OrgKind.community_mental_health
        add_protocol(rw.db, OrgKind.care_coordination, cmht_kind, ["identity"])
        _member(rw.db, rw.participant, probation)
        _member(rw.db, rw.participant, cmht)
        housing = _submitted(rw)
        rw.act(housing, "accept", rw.recipient())
        declined = _submitted(rw, gp)
        rw.act(declined, "decline", rw.world.headers(gp), reason="Not registered here.")
        treatment = _submitted(rw, drugs)
        rw.act(treatment, "accept", rw.world.headers(drugs))
        rw.act(treatment, "start", rw.world.headers(drugs))
        rw.create()  # a draft: the coordinator's own work in progress
        return {
            "orgs": {
                "coord": rw.coord,
                "housing": rw.housing,
                "gp": gp,
                "drugs": drugs,
                "probation": probation,
                "cmht": cmht,
                "stranger": rw.world.org("Stranger", OrgKind.voluntary),
            },
            "ids": {"housing": housing, "declined": declined, "treatment": treatment},
        }

    def test_care_team_org_with_referrals_protocol_reads_what_readiness_shows(
        self, rw: ReferralWorld, setup: dict[str, Any]
    ) -> None:
        h = rw.world.headers(setup["orgs"]["probation"])
        rid = setup["ids"]["housing"]
        res = rw.client.get(f"{URL}/{rid}", headers=h)
        assert res.status_code == 200, res.text  # was 404, while readiness listed the id
        assert res.json()["participant_id"] == str(rw.participant.id)
        ready = rw.client.get(
            f"/api/v1/participants/{rw.participant.id}/release-readiness", headers=h
        ).json()
        items = {i["key"]: i["evidence_ids"] for i in ready["items"]}
        assert rid in items["accommodation"]

    @pytest.mark.parametrize(
        "who", ["coord", "housing", "gp", "drugs", "probation", "cmht", "stranger"]
    )
    def test_reads_boxes_and_evidence_agree(
        self, rw: ReferralWorld, setup: dict[str, Any], who: str
    ) -> None:
        org = setup["orgs"][who]
        h = rw.world.headers(org)
        full, closed = set(), set()
        for rid in setup["ids"].values():
            res = rw.client.get(f"{URL}/{rid}", headers=h)
            assert res.status_code in (200, 404), res.text
            if res.status_code == 200:
                (full if "participant_id" in res.json() else closed).add(rid)
        # Release readiness: evidence is exactly the accepted referrals the read shows in
        # full (the housing and treatment referrals are each evidence for one item).
        res = rw.client.get(
            f"/api/v1/participants/{rw.participant.id}/release-readiness", headers=h
        )
        if res.status_code == 200:
            evidence = {i for item in res.json()["items"] for i in item["evidence_ids"]}
            referral_evidence = evidence & set(setup["ids"].values())
            accepted = {setup["ids"]["housing"], setup["ids"]["treatment"]}
            assert referral_evidence == full & accepted
        else:
            assert res.status_code == 404 and not full  # no relationship, no third-party view
        # Boxes: each item answers as the read does (full or closed), and nothing in a box
        # is hidden from the read.
        for box in ("inbox", "outbox"):
            res = rw.client.get(URL, params={"box": box}, headers=h)
            assert res.status_code == 200, res.text
            for item in res.json()["items"]:
                if item["id"] not in setup["ids"].values():
                    continue  # the draft
                assert item["id"] in (full if "participant_id" in item else closed)

    def test_expected_views(self, rw: ReferralWorld, setup: dict[str, Any]) -> None:
        ids = setup["ids"]

        def statuses(who: str) -> dict[str, str]:
            h = rw.world.headers(setup["orgs"][who])
            out = {}
            for name, rid in ids.items():
                res = rw.client.get(f"{URL}/{rid}", headers=h)
                out[name] = (
                    "404"
                    if res.status_code == 404
                    else ("full" if "participant_id" in res.json() else "closed")
                )
            return out

        assert statuses("coord") == {"housing": "full", "declined": "full", "treatment": "full"}
        assert statuses("probation") == {"housing": "full", "declined": "full", "treatment": "full"}
        assert statuses("cmht") == {"housing": "404", "declined": "404", "treatment": "404"}
        assert statuses("gp") == {"housing": "404", "declined": "closed", "treatment": "404"}
        assert statuses("stranger") == {"housing": "404", "declined": "404", "treatment": "404"}


class TestReferralSightIsPure:
    """The predicate itself, table-driven like tests/sharing/test_decision.py."""

    A, B, C = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    PID = uuid.uuid4()
    ALLOW = Allow("protocol", protocol_id=uuid.uuid4(), protocol_version=1)
    DENY = Deny("no_protocol")

    def _caller(self, org: uuid.UUID, participant: uuid.UUID | None = None) -> CallerFacts:
        return CallerFacts(
            org_id=org,
            org_kind="housing",
            purpose=Purpose.direct_care,
            actor="user:x",
            is_participant=participant is not None,
            participant_id=participant,
        )

    @pytest.mark.parametrize(
        ("who", "status", "decision", "expected"),
        [
            ("from", ReferralStatus.draft, DENY, (ReferralSight.full, "own_record")),
            ("from", ReferralStatus.declined, DENY, (ReferralSight.full, "own_record")),
            ("to", ReferralStatus.draft, ALLOW, None),
            ("to", ReferralStatus.submitted, DENY, (ReferralSight.full, "referral_addressee")),
            ("to", ReferralStatus.completed, DENY, (ReferralSight.full, "referral_addressee")),
            ("to", ReferralStatus.declined, DENY, (ReferralSight.closed, "referral_addressee")),
            ("to", ReferralStatus.withdrawn, DENY, (ReferralSight.closed, "referral_addressee")),
            ("to", ReferralStatus.withdrawn, ALLOW, (ReferralSight.full, "protocol")),
            ("other", ReferralStatus.accepted, ALLOW, (ReferralSight.full, "protocol")),
            ("other", ReferralStatus.accepted, DENY, None),
            ("other", ReferralStatus.draft, ALLOW, None),
            ("self", ReferralStatus.submitted, DENY, (ReferralSight.full, "self")),
            ("self", ReferralStatus.draft, DENY, None),
            ("other_person", ReferralStatus.submitted, ALLOW, None),
        ],
    )
    def test_table(self, who: str, status: ReferralStatus, decision: Any, expected: Any) -> None:
        caller = {
            "from": self._caller(self.A),
            "to": self._caller(self.B),
            "other": self._caller(self.C),
            "self": self._caller(self.C, self.PID),
            "other_person": self._caller(self.C, uuid.uuid4()),
        }[who]
        seen = referral_sight(caller, ReferralParties(self.PID, self.A, self.B, status), decision)
        assert (None if seen is None else (seen.sight, seen.basis)) == expected

    @pytest.mark.parametrize(
        ("who", "category", "covered"),
        [
            ("from", "referrals", True),
            ("to", "referrals", True),
            ("from", "custody", False),  # an attached category: the decision is asked
            ("to", "contact", False),
            ("other", "referrals", False),  # not a party: the decision is asked
            ("self", "referrals", False),  # the person: the decision (self-service) is asked
        ],
    )
    def test_documents_covered_by_the_referral(
        self, who: str, category: str, covered: bool
    ) -> None:
        caller = {
            "from": self._caller(self.A),
            "to": self._caller(self.B),
            "other": self._caller(self.C),
            "self": self._caller(self.B, self.PID),  # even with a party's organisation id
        }[who]
        parties = ReferralParties(self.PID, self.A, self.B, ReferralStatus.submitted)
        assert covered_by_referral(caller, parties, category) is covered
