"""Refusals by rule (403) are answered *and* recorded: one denied access event on the
person's record, with the rule's reason, in the same log the disclosures go to."""

import uuid

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.audit import AccessEvent
from app.models.organisation import OrgKind, Role
from tests.api.test_consent_and_break_glass import World2
from tests.fixtures import World


def _denials(db: Session, pid: str) -> list[AccessEvent]:
    db.expire_all()
    return list(
        db.exec(
            select(AccessEvent).where(
                AccessEvent.participant_id == uuid.UUID(pid), AccessEvent.outcome == "denied"
            )
        ).all()
    )


def _one_denial(db: Session, pid: str, before: int, action: str, resource: str) -> AccessEvent:
    rows = _denials(db, pid)
    assert len(rows) == before + 1, [(r.action, r.resource) for r in rows]
    row = rows[-1] if len(rows) == 1 else max(rows, key=lambda r: r.seq)
    assert (row.action, row.resource) == (action, resource)
    return row


def test_disclosure_log_refusals_are_audited(client: TestClient, world: World, db: Session) -> None:
    w = World2(client, world)
    for headers in (
        w.world.headers(w.coord, Role.supervisor),  # lead org, but not the log's reader
        w.world.client_headers(w.coord, ["audit:read", "participants:read"]),  # lead's system
        w.world.headers(w.cmht),  # care team, not the lead
    ):
        before = len(_denials(db, w.pid))
        assert client.get(w.url("/disclosures"), headers=headers).status_code == 403
        row = _one_denial(db, w.pid, before, "read", "disclosure_log")
        assert row.withheld == [{"category": "*", "reason": "not_log_reader"}]


def test_rule_refused_writes_are_audited(client: TestClient, world: World, db: Session) -> None:
    w = World2(client, world)
    housing = w.world.org("Housing", OrgKind.housing)
    before = len(_denials(db, w.pid))
    refused = client.post(
        w.url("/care-team"),
        headers=w.world.headers(w.cmht),
        json={"organisation_id": str(housing.id)},
    )
    assert refused.status_code == 403
    row = _one_denial(db, w.pid, before, "create", "care_team")
    assert row.withheld == [{"category": "*", "reason": "not_lead_org"}]
    assert row.actor_org_id == w.cmht.id


def test_participant_refusal_is_audited(client: TestClient, world: World, db: Session) -> None:
    w = World2(client, world)
    me = w.world.headers(w.coord, Role.participant, participant_id=uuid.UUID(w.pid))
    before = len(_denials(db, w.pid))
    body = {"title": "Find a flat", "horizon": "short_term_recovery", "life_domain": "housing"}
    assert client.post(w.url("/plan/goals"), headers=me, json=body).status_code == 403
    row = _one_denial(db, w.pid, before, "create", "goal")
    assert row.withheld == [{"category": "*", "reason": "participant_token"}]
