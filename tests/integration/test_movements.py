"""Prison movement intake: custody and phase follow the movement once, through the
transition table; a repeat is a no-op; an unknown number reveals nothing."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.models.events import DomainEvent
from app.models.movements import Movement
from app.models.notice import Notice
from app.models.organisation import Organisation, OrgKind
from app.models.participant import CareRole, CareTeamMember, Participant, Phase
from tests.api.referral_world import add_participant
from tests.fixtures import World

URL = "/api/v1/movements"


@dataclass
class PrisonWorld:
    db: Session
    client: TestClient
    coord: Organisation
    prison: Organisation
    participant: Participant
    headers: dict[str, str]

    def send(self, **body: Any) -> Any:
        payload = {
            "event_id": "mv-1",
            "kind": "released",
            "prison_number": "A1234BC",
            "occurred_at": datetime(2026, 12, 1, 9, 30, tzinfo=UTC).isoformat(),
        }
        payload.update(body)
        return self.client.post(URL, json=payload, headers=self.headers)


@pytest.fixture
def pw(world: World, db: Session, client: TestClient) -> PrisonWorld:
    coord = world.org("Coordination", OrgKind.care_coordination)
    prison = world.org("HMP Health", OrgKind.prison_healthcare)
    participant = add_participant(
        db, coord, prison_number="A1234BC", establishment="HMP Northtown", phase=Phase.pre_release
    )
    db.add(
        CareTeamMember(
            participant_id=participant.id,
            organisation_id=prison.id,
            role=CareRole.contributor,
            source_org_id=coord.id,
            added_by="test",
        )
    )
    db.commit()
    headers = world.client_headers(prison, ["movements:write"])
    return PrisonWorld(db, client, coord, prison, participant, headers)


def _count(pw: PrisonWorld, model: Any) -> int:
    """Rows about this test's person (on PostgreSQL other tests may have committed rows)."""
    stmt = select(func.count()).select_from(model).where(model.participant_id == pw.participant.id)
    return int(pw.db.exec(stmt).one())


def test_release_applies_custody_and_phase(pw: PrisonWorld) -> None:
    res = pw.send()
    assert res.status_code == 201, res.text
    assert res.json()["participant_id"] == str(pw.participant.id)
    pw.db.refresh(pw.participant)
    assert pw.participant.phase == Phase.community
    assert pw.participant.actual_release_date.isoformat() == "2026-12-01"  # type: ignore[union-attr]
    types = [
        e.type
        for e in pw.db.exec(
            select(DomainEvent).where(DomainEvent.participant_id == pw.participant.id)
        ).all()
    ]
    assert sorted(types) == [
        "movement.received",
        "participant.phase_changed",
        "participant.release_date_changed",
    ]


def test_a_repeated_event_changes_nothing(pw: PrisonWorld) -> None:
    first = pw.send()
    pw.db.refresh(pw.participant)
    version, events = pw.participant.version, _count(pw, DomainEvent)
    again = pw.send(occurred_at=datetime(2026, 12, 5, tzinfo=UTC).isoformat())
    assert again.status_code == 200
    assert again.json()["duplicate"] is True and again.json()["id"] == first.json()["id"]
    pw.db.refresh(pw.participant)
    assert pw.participant.version == version
    assert pw.participant.actual_release_date.isoformat() == "2026-12-01"  # type: ignore[union-attr]
    assert _count(pw, DomainEvent) == events and _count(pw, Movement) == 1


def test_transfer_changes_the_establishment_only(pw: PrisonWorld) -> None:
    res = pw.send(kind="transferred", establishment="HMP Southtown")
    assert res.status_code == 201
    pw.db.refresh(pw.participant)
    assert pw.participant.establishment == "HMP Southtown"
    assert pw.participant.phase == Phase.pre_release


def test_recall_after_release(pw: PrisonWorld) -> None:
    pw.send()
    res = pw.send(event_id="mv-2", kind="recalled", establishment="HMP Northtown")
    assert res.status_code == 201
    pw.db.refresh(pw.participant)
    assert pw.participant.phase == Phase.in_prison


def test_transition_table_is_obeyed(pw: PrisonWorld) -> None:
    pw.participant.phase = Phase.ended
    pw.db.add(pw.participant)
    pw.db.commit()
    res = pw.send(kind="received", establishment="HMP Northtown")
    assert res.status_code == 409
    assert _count(pw, Movement) == 0


def test_unknown_and_unrelated_numbers_look_the_same(pw: PrisonWorld, world: World) -> None:
    other_org = world.org("Elsewhere", OrgKind.care_coordination)
    add_participant(pw.db, other_org, prison_number="B9876ZZ")
    pw.db.commit()
    unknown = pw.send(prison_number="C1111AA")
    unrelated = pw.send(prison_number="B9876ZZ")
    assert unknown.status_code == unrelated.status_code == 422
    assert unknown.json()["detail"] == unrelated.json()["detail"]
    assert "B9876ZZ" not in unrelated.text
    assert _count(pw, Movement) == 0


def test_malformed_prison_number_422(pw: PrisonWorld) -> None:
    assert pw.send(prison_number="12345").status_code == 422


def test_only_prison_and_probation_systems(pw: PrisonWorld, world: World) -> None:
    housing = world.org("Housing", OrgKind.housing)
    res = pw.client.post(
        URL,
        json={
            "event_id": "x",
            "kind": "released",
            "prison_number": "A1234BC",
            "occurred_at": datetime.now(UTC).isoformat(),
        },
        headers=world.client_headers(housing, ["movements:write"]),
    )
    assert res.status_code == 403
    # a staff account cannot even hold the scope: movements come from systems
    staff = world.headers(pw.prison, "org_admin")
    assert pw.send(event_id="y").status_code == 201  # the prison's system still can
    assert pw.client.post(URL, json={}, headers=staff).status_code == 403


def test_release_with_open_items_notifies_the_lead(pw: PrisonWorld) -> None:
    pw.send()
    [notice] = pw.db.exec(
        select(Notice).where(
            Notice.kind == "released_with_open_items", Notice.participant_id == pw.participant.id
        )
    ).all()
    assert notice.organisation_id == pw.coord.id
    assert "Accommodation arranged" in notice.message and "Sam" not in notice.message
