"""The demo world (with its directory, referrals and care record) seeds cleanly and shows
what the demo is meant to show."""

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.demo import seed
from app.models.directory import Service
from app.models.organisation import Organisation
from app.models.referral import Referral, ReferralStatus
from app.sharing.audit import verify_chain
from tests.fixtures import World


def test_demo_seed(db: Session, client: TestClient, world: World) -> None:
    credentials = seed(db)
    db.commit()
    assert {u["username"] for u in credentials["users"]} >= {"coordinator", "alex-demo"}
    orgs = {o.name: o for o in db.exec(select(Organisation)).all()}
    coord = orgs["Northtown Care Coordination"]
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
    releases = client.get("/api/v1/caseload/releases", headers=h).json()["items"]
    assert [r["days_to_release"] for r in releases] == [10]
    assert verify_chain(db).ok
