"""Retention (issue 14, part 5): the dry run lists exactly what the real run removes."""

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.core.settings import get_settings
from app.models.audit import AccessEvent
from app.models.organisation import OrgKind, Role
from app.models.participant import Participant
from app.models.plan import Plan
from app.models.referral import Referral, ReferralTransition
from app.models.sharing import Consent
from app.services import retention
from app.sharing.audit import verify_chain
from tests.api.helpers import protocol
from tests.fixtures import World
from tests.test_cli import _json, _run
from tests.test_cli import env as cli_env  # noqa: F401 (the CLI's fresh-database fixture)


def make(client: TestClient, world: World, headers: dict, ended: date | None) -> uuid.UUID:
    body: dict = {"given_name": "Old", "family_name": "Synthetic"}
    r = client.post("/api/v1/participants", json=body, headers=headers)
    assert r.status_code == 201, r.text
    pid = uuid.UUID(r.json()["id"])
    participant = world.session.get(Participant, pid)
    assert participant is not None
    participant.intervention_end = ended
    world.session.add(participant)
    world.session.commit()
    return pid


def test_dry_run_lists_what_the_run_removes_and_the_chain_verifies(
    client: TestClient, world: World, db: Session
) -> None:
    coord = world.org("Coordination", OrgKind.care_coordination)
    housing = world.org("Housing", OrgKind.housing)
    lead = world.headers(coord)
    protocol(db, source=coord, recipient=housing, categories=["plan"], basis="consent")
    today = datetime.now(UTC).date()
    old = make(client, world, lead, today - timedelta(days=7 * 366))
    recent = make(client, world, lead, today - timedelta(days=30))
    ongoing = make(client, world, lead, None)
    world.user(coord, Role.participant, participant_id=old)
    for pid in (old, recent):
        r = client.post(
            f"/api/v1/participants/{pid}/consents",
            json={
                "categories": ["plan"],
                "recipient_org_kinds": ["housing"],
                "purposes": ["direct_care"],
                "method": "verbal",
            },
            headers=lead,
        )
        assert r.status_code == 201, r.text
        goal = client.post(
            f"/api/v1/participants/{pid}/plan/goals",
            json={"title": "Settle in", "horizon": "short_term_recovery", "life_domain": "housing"},
            headers=lead,
        )
        assert goal.status_code == 201, goal.text
    referral = {
        "to_org_id": str(housing.id),
        "reason": "Synthetic",
        "urgency": "soon",
        "categories": ["plan"],
    }
    stale = client.post(
        "/api/v1/referrals", json={**referral, "participant_id": str(ongoing)}, headers=lead
    ).json()["id"]
    fresh = client.post(
        "/api/v1/referrals", json={**referral, "participant_id": str(recent)}, headers=lead
    ).json()["id"]
    old_ref = client.post(
        "/api/v1/referrals",
        json={**referral, "participant_id": str(old), "submit": True},
        headers=lead,
    )
    assert old_ref.status_code == 201, old_ref.text
    row = db.get(Referral, uuid.UUID(stale))
    assert row is not None
    row.updated_at = datetime.now(UTC) - timedelta(days=200)
    db.add(row)
    db.commit()
    settings = get_settings()
    now = datetime.now(UTC)
    listed = retention.plan(db, now, settings)
    assert listed["participants"] == [str(old)]
    assert listed["draft_referrals"] == [stale]
    events_before = len(db.exec(select(AccessEvent)).all())
    removed = retention.run(db, now, settings)
    db.commit()
    assert removed["participants"] == listed["participants"]
    assert removed["draft_referrals"] == listed["draft_referrals"]
    assert db.get(Participant, old) is None and db.get(Participant, recent) is not None
    assert db.get(Referral, uuid.UUID(stale)) is None and db.get(Referral, uuid.UUID(fresh))
    assert not db.exec(select(Consent).where(Consent.participant_id == old)).all()
    assert not db.exec(select(Plan).where(Plan.participant_id == old)).all()
    assert db.exec(select(Plan).where(Plan.participant_id == recent)).all()
    assert not db.exec(
        select(ReferralTransition).where(
            ReferralTransition.referral_id == uuid.UUID(old_ref.json()["id"])
        )
    ).all()
    # The access log is intact, says what was purged, and every chain verifies.
    events = db.exec(select(AccessEvent)).all()
    assert len(events) == events_before + 2
    purge = [e for e in events if e.action == "retention_purge"]
    assert {(e.resource, e.resource_id) for e in purge} == {
        ("participant", str(old)),
        ("referral", stale),
    }
    assert any(e.participant_id == old and e.action != "retention_purge" for e in events)
    assert verify_chain(db).ok
    assert retention.plan(db, now, settings)["participants"] == []


@pytest.mark.usefixtures("cli_env")
def test_cli_dry_run_is_the_default() -> None:
    dry = _json(_run("retention", "run", "--json"))
    assert dry["applied"] is False and dry["participants"] == []
    real = _json(_run("retention", "run", "--apply", "--json"))
    assert real["applied"] is True and real["draft_referrals"] == []
