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


def test_addressee_hears_of_its_referral_and_strangers_do_not(
    world: Any, db: Any, client: Any, receiver: Receiver
) -> None:
    rw = make_referral_world(world, db, client)
    admin = world.headers(rw.housing, "org_admin")
    sub = client.post(
        "/api/v1/webhooks", json={"url": receiver.url, "event_types": TYPES}, headers=admin
    ).json()
    stranger = world.org("Stranger", "housing")
    client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url + "/stranger", "event_types": TYPES},
        headers=world.headers(stranger, "org_admin"),
    )

    def sessions() -> Any:
        from app.core.db import committing

        return committing(db)

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
