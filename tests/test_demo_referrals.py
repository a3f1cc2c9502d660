"""The demo directory and referrals seed cleanly and show what the demo is meant to show."""

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.demo import seed
from app.demo_referrals import seed_referrals
from app.models.directory import Service
from app.models.organisation import Organisation, User
from app.models.referral import Referral, ReferralStatus
from tests.api.referral_world import add_participant
from tests.fixtures import World


def test_demo_seed(db: Session, client: TestClient, world: World) -> None:
    seed(db)
    orgs = {o.name: o for o in db.exec(select(Organisation)).all()}
    users = {u.username: u for u in db.exec(select(User)).all()}
    coord = orgs["Northtown Care Coordination"]
    people = [add_participant(db, coord, release_in_days=d) for d in (7, 12, 40)]
    seed_referrals(db, orgs, users, people)
    db.commit()
    states = {r.status for r in db.exec(select(Referral)).all()}
    assert states == set(ReferralStatus)
    h = world.headers(coord)
    shelter = client.get("/api/v1/services", params={"q": "Weekend Peer"}, headers=h).json()
    assert shelter["items"][0]["closed_days"] == [
        "monday", "tuesday", "wednesday", "thursday", "friday",
    ]  # fmt: skip
    stale = client.get("/api/v1/services", params={"stale": True}, headers=h).json()["items"]
    assert "Benefits on Release" in {s["name"] for s in stale}
    assert len(db.exec(select(Service)).all()) == 8
    releases = client.get("/api/v1/caseload/releases", headers=h).json()
    assert [r["days_to_release"] for r in releases] == [7, 12]
