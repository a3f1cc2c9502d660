"""Disclosures that went unaudited (issue 8, holes 4 and 6): identifier matches at
registration, the access explanation, notices, and Idempotency-Key replays."""

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.models.audit import AccessEvent
from app.models.notice import Notice
from app.models.organisation import Organisation, OrgKind, Role
from tests.api.helpers import FULL_PARTICIPANT, member
from tests.fixtures import World

URL = "/api/v1/participants"


def _events(db: Session, **where: Any) -> list[AccessEvent]:
    stmt = select(AccessEvent).order_by(col(AccessEvent.seq))
    for name, value in where.items():
        stmt = stmt.where(getattr(AccessEvent, name) == value)
    return list(db.exec(stmt).all())


class Holder:
    """Sam is registered by probation; the coordinator cannot see Sam."""

    def __init__(self, client: TestClient, world: World) -> None:
        self.client, self.world = client, world
        self.probation = world.org("Probation", OrgKind.probation)
        self.coord = world.org("Coordination", OrgKind.care_coordination)
        res = client.post(URL, json=FULL_PARTICIPANT, headers=world.headers(self.probation))
        assert res.status_code == 201, res.text
        self.pid = uuid.UUID(res.json()["id"])

    def register(self, org: Organisation, **identifiers: str) -> Any:
        body = {"given_name": "Jo", "family_name": "Other", **identifiers}
        return self.client.post(URL, json=body, headers=self.world.headers(org))

    def disclosure_texts(self) -> list[str]:
        me = self.world.headers(self.probation, Role.participant, participant_id=self.pid)
        res = self.client.get(f"{URL}/{self.pid}/disclosures", headers=me)
        assert res.status_code == 200, res.text
        return [e["text"] for e in res.json()["items"]]


@pytest.fixture
def holder(client: TestClient, world: World) -> Holder:
    return Holder(client, world)


IDENTIFIERS = [
    {"nhs_number": FULL_PARTICIPANT["nhs_number"]},
    {"prison_number": FULL_PARTICIPANT["prison_number"]},
    {"probation_crn": FULL_PARTICIPANT["probation_crn"]},
]


class TestIdentifierMatchAtRegistration:
    """Hole 4: a matching identifier is a disclosure of identity, recorded and notified."""

    @pytest.mark.parametrize("identifier", IDENTIFIERS, ids=lambda d: next(iter(d)))
    def test_match_is_recorded_against_the_holder(
        self, holder: Holder, db: Session, identifier: dict[str, str]
    ) -> None:
        res = holder.register(holder.coord, **identifier)
        assert res.status_code == 409
        assert res.headers["content-type"].startswith("application/problem+json")
        events = _events(db, participant_id=holder.pid, actor_org_id=holder.coord.id)
        assert len(events) == 1
        assert (events[0].action, events[0].outcome) == ("identifier_match", "allowed")
        assert events[0].categories == ["identity"]
        # In the person's disclosure log, in plain language.
        texts = holder.disclosure_texts()
        assert any(
            t.startswith(f"{holder.coord.name} tried to register someone with an NHS, prison")
            and "known to Throughcare" in t
            for t in texts
        ), texts

    def test_lead_organisation_is_told(self, holder: Holder, db: Session) -> None:
        holder.register(holder.coord, nhs_number=FULL_PARTICIPANT["nhs_number"])
        notices = db.exec(
            select(Notice).where(
                Notice.organisation_id == holder.probation.id, Notice.kind == "identifier_match"
            )
        ).all()
        assert [n.participant_id for n in notices] == [holder.pid]
        assert holder.coord.name in notices[0].message
        # ... and reads it through the API.
        res = holder.client.get("/api/v1/notices", headers=holder.world.headers(holder.probation))
        assert any(i["kind"] == "identifier_match" for i in res.json()["items"])

    def test_same_answer_whichever_identifier_and_whoever_holds_it(
        self, holder: Holder, world: World
    ) -> None:
        bodies = [holder.register(holder.coord, **i).json() for i in IDENTIFIERS]
        # A person the caller does see (its own registration) answers the same.
        own = holder.register(holder.coord, nhs_number="4010232137")
        assert own.status_code == 201
        bodies.append(holder.register(holder.coord, nhs_number="4010232137").json())
        assert all(b == bodies[0] for b in bodies), bodies
        assert str(holder.pid) not in str(bodies)
        assert set(bodies[0]) == {"type", "title", "status", "detail", "instance"}

    def test_nothing_registered(self, holder: Holder, db: Session) -> None:
        holder.register(holder.coord, prison_number=FULL_PARTICIPANT["prison_number"])
        res = holder.client.get(URL, headers=holder.world.headers(holder.coord))
        assert res.json()["items"] == []

    def test_replayed_refusal_is_recorded_again(self, holder: Holder, db: Session) -> None:
        h = holder.world.headers(holder.coord, **{"Idempotency-Key": "reg-1"})
        body = {"given_name": "Jo", "family_name": "Other", "nhs_number": "9434765919"}
        first = holder.client.post(URL, json=body, headers=h)
        again = holder.client.post(URL, json=body, headers=h)
        assert first.status_code == again.status_code == 409
        assert first.json() == again.json()
        events = _events(db, participant_id=holder.pid, actor_org_id=holder.coord.id)
        assert [e.action for e in events] == ["identifier_match", "identifier_match"]


class TestReplayRecordsWhatItReturns:
    """Hole 6: an Idempotency-Key replay of POST /participants discloses every category
    its body carries, not just identity."""

    def test_replay(self, client: TestClient, world: World, db: Session) -> None:
        org = world.org("Coordination", OrgKind.care_coordination)
        h = world.headers(org, **{"Idempotency-Key": "reg-2"})
        first = client.post(URL, json=FULL_PARTICIPANT, headers=h)
        again = client.post(URL, json=FULL_PARTICIPANT, headers=h)
        assert again.headers.get("idempotent-replayed") == "true"
        assert again.json()["phone"] and again.json()["establishment"]
        replay = _events(db, participant_id=uuid.UUID(first.json()["id"]), action="create_replay")
        assert len(replay) == 1
        assert {"identity", "contact", "custody", "plan", "protected_characteristics"} <= set(
            replay[0].categories
        )


class TestAccessExplanationIsAudited:
    """Hole 6: GET …/access discloses consent, protocol and grant ids: one access event."""

    def test_explanation_writes_an_event(self, client: TestClient, world: World, db: Session):
        coord = world.org("Coordination", OrgKind.care_coordination)
        pid = client.post(URL, json=FULL_PARTICIPANT, headers=world.headers(coord)).json()["id"]
        cmht = world.org("CMHT", OrgKind.community_mental_health)
        member(db, uuid.UUID(pid), cmht)
        db.commit()
        res = client.get(
            f"{URL}/{pid}/access", params={"category": "contact"}, headers=world.headers(cmht)
        )
        assert res.status_code == 200, res.text
        events = _events(db, participant_id=uuid.UUID(pid), actor_org_id=cmht.id)
        assert [(e.resource, e.outcome) for e in events] == [("access_explanation", "allowed")]


class TestNoticesAreAudited:
    """Hole 6: GET /notices items carry participant ids and break-glass text."""

    def test_one_event_per_participant_touched(
        self, client: TestClient, world: World, db: Session
    ) -> None:
        coord = world.org("Coordination", OrgKind.care_coordination)
        people = []
        for _ in range(2):
            res = client.post(
                URL, json={"given_name": "Al", "family_name": "Ex"}, headers=world.headers(coord)
            )
            people.append(uuid.UUID(res.json()["id"]))
        for pid in [*people, people[0]]:
            db.add(
                Notice(
                    organisation_id=coord.id,
                    kind="break_glass",
                    participant_id=pid,
                    message="Break-glass access (risk_to_life) to risk needs review.",
                )
            )
        db.add(Notice(organisation_id=coord.id, kind="system", message="No person."))
        db.commit()
        res = client.get("/api/v1/notices", headers=world.headers(coord))
        assert res.status_code == 200 and len(res.json()["items"]) == 4
        events = _events(db, resource="notice", actor_org_id=coord.id)
        assert sorted(e.participant_id for e in events) == sorted(people)
        assert all(e.outcome == "allowed" and e.action == "list" for e in events)

    def test_acknowledging_is_audited_and_the_log_says_so_plainly(
        self, client: TestClient, world: World, db: Session
    ) -> None:
        coord = world.org("Coordination", OrgKind.care_coordination)
        res = client.post(
            URL, json={"given_name": "Al", "family_name": "Ex"}, headers=world.headers(coord)
        )
        pid = uuid.UUID(res.json()["id"])
        notice = Notice(
            organisation_id=coord.id,
            kind="break_glass",
            participant_id=pid,
            message="Break-glass access (risk_to_life) to risk needs review.",
        )
        db.add(notice)
        db.commit()
        h = world.headers(coord)
        assert client.post(f"/api/v1/notices/{notice.id}/acknowledge", headers=h).status_code == 200
        events = _events(db, resource="notice", participant_id=pid)
        assert [(e.action, e.outcome) for e in events] == [("acknowledge", "allowed")]
        me = world.headers(coord, Role.participant, participant_id=pid)
        texts = [
            e["text"] for e in client.get(f"{URL}/{pid}/disclosures", headers=me).json()["items"]
        ]
        assert any(t.startswith(f"{coord.name} read a notice that names you on ") for t in texts)
