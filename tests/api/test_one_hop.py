"""Routes that end the gate's scope in their own thread (`one_hop`): an audit row that
cannot be written still fails the request, and nothing of the record is sent."""

from typing import Any

import pytest
from sqlmodel import func, select

import app.sharing.gate as gate_module
from app.models.audit import AccessEvent
from app.models.organisation import OrgKind
from app.models.participant import Participant
from tests.fixtures import World


@pytest.fixture
def own(world: World) -> tuple[Any, Participant]:
    org = world.org("Coordination", OrgKind.care_coordination)
    person = Participant(given_name="Ada", family_name="Sample", source_org_id=org.id)
    world.session.add(person)
    world.session.commit()
    return org, person


@pytest.mark.parametrize("suffix", ["", "/plan", "/timeline"])
def test_a_failed_audit_append_fails_the_read(client, world, own, monkeypatch, suffix):
    org, person = own
    headers = world.headers(org)
    before = world.session.exec(select(func.count()).select_from(AccessEvent)).one()

    def broken(session: Any, drafts: list[Any]) -> list[Any]:
        raise RuntimeError("the audit store is unavailable")

    monkeypatch.setattr(gate_module, "append_events", broken)
    response = client.get(f"/api/v1/participants/{person.id}{suffix}", headers=headers)
    assert response.status_code == 500
    assert "Ada" not in response.text
    monkeypatch.undo()
    after = world.session.exec(select(func.count()).select_from(AccessEvent)).one()
    assert after == before


def test_a_failed_audit_append_fails_the_list(client, world, own, monkeypatch):
    org, _person = own
    headers = world.headers(org)

    def broken(session: Any, drafts: list[Any]) -> list[Any]:
        raise RuntimeError("the audit store is unavailable")

    monkeypatch.setattr(gate_module, "append_events", broken)
    response = client.get("/api/v1/participants?limit=50", headers=headers)
    assert response.status_code == 500
    assert "Ada" not in response.text


def test_the_read_is_audited_once(client, world, own):
    org, person = own
    headers = world.headers(org)
    response = client.get(f"/api/v1/participants/{person.id}", headers=headers)
    assert response.status_code == 200
    rows = world.session.exec(
        select(AccessEvent).where(AccessEvent.participant_id == person.id)
    ).all()
    assert [(r.action, r.outcome) for r in rows] == [("read", "allowed")]
