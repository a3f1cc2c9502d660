"""Referral events reach whoever may see the referral when they are sent, as the API
decides it: the addressee (also its closed view after a decline), never a stranger."""

from typing import Any

from sqlmodel import select
from standardwebhooks import Webhook

from app.models.audit import AccessEvent
from app.services.worker import run_once
from tests.api.referral_world import make_referral_world
from tests.integration.world import Receiver, payload

TYPES = ["referral.submitted", "referral.declined"]


def subscribe_with_a_stranger(
    world: Any, client: Any, org: Any, receiver: Receiver, types: list[str]
) -> dict[str, Any]:
    """`org`'s subscription to `types` at the receiver, and a stranger organisation's to
    the same types at the receiver's `/stranger` path (which must receive nothing)."""
    sub = client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url, "event_types": types},
        headers=world.headers(org, "org_admin"),
    ).json()
    stranger = world.org("Stranger", "housing")
    client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url + "/stranger", "event_types": types},
        headers=world.headers(stranger, "org_admin"),
    )
    return dict(sub)


def committing_sessions(db: Any) -> Any:
    """The worker's sessions: the test's session, committed per step."""
    from app.core.db import committing

    return lambda: committing(db)


def test_addressee_hears_of_its_referral_and_strangers_do_not(
    world: Any, db: Any, client: Any, receiver: Receiver
) -> None:
    rw = make_referral_world(world, db, client)
    sub = subscribe_with_a_stranger(world, client, rw.housing, receiver, TYPES)
    sessions = committing_sessions(db)
    referral = rw.create(submit=True)
    run_once(sessions)
    res = rw.act(referral["id"], "decline", rw.recipient(), reason="No capacity")
    assert res.status_code == 200, res.text
    run_once(sessions)
    assert [payload(r)["type"] for r in receiver.received] == TYPES
    for got in receiver.received:
        assert got.headers  # all to the addressee's URL, none to the stranger's
        Webhook(sub["secret"]).verify(got.body, got.headers)
    assert all(payload(r)["data"]["referral_id"] == referral["id"] for r in receiver.received)
    rows = db.exec(
        select(AccessEvent).where(
            AccessEvent.participant_id == rw.participant.id,
            AccessEvent.action == "webhook_delivery",
        )
    ).all()
    assert [r.outcome for r in rows] == ["allowed", "allowed"]
    assert all(r.actor_org_id == rw.housing.id for r in rows)


def test_the_referrer_hears_of_each_milestone_and_strangers_do_not(
    world: Any, db: Any, client: Any, receiver: Receiver
) -> None:
    rw = make_referral_world(world, db, client)
    kinds = ["referral.milestone_recorded"]
    sub = subscribe_with_a_stranger(world, client, rw.coord, receiver, kinds)
    sessions = committing_sessions(db)
    referral = rw.create(submit=True)
    assert rw.act(referral["id"], "accept", rw.recipient()).status_code == 200
    made = client.post(
        f"/api/v1/referrals/{referral['id']}/milestones",
        json={"kind": "first_contact_made", "occurred_on": "2026-11-25"},
        headers=rw.recipient(),
    )
    assert made.status_code == 201, made.text
    run_once(sessions)
    [got] = receiver.received
    Webhook(sub["secret"]).verify(got.body, got.headers)
    body = payload(got)
    assert body["type"] == "referral.milestone_recorded"
    assert body["data"]["referral_id"] == referral["id"]
    assert body["data"]["milestone_id"] == made.json()["id"]
    sent = db.exec(
        select(AccessEvent).where(
            AccessEvent.participant_id == rw.participant.id,
            AccessEvent.action == "webhook_delivery",
        )
    ).all()
    assert [(r.outcome, r.actor_org_id) for r in sent] == [("allowed", rw.coord.id)]
