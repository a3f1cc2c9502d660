"""The demo shows a released person who missed their first appointment (issue 13 §6)."""

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.demo import seed
from app.models.organisation import Organisation
from app.models.participant import Participant
from app.sharing.audit import verify_chain
from tests.fixtures import World


def test_demo_released_person_missed_first_appointment(
    db: Session, client: TestClient, world: World
) -> None:
    seed(db)
    db.commit()
    orgs = {o.name: o for o in db.exec(select(Organisation)).all()}
    coord = orgs["Northtown Care Coordination"]
    cmht = orgs["Northtown Community Mental Health Team"]
    peer = orgs["Second Chance Peer Support"]
    casey = db.exec(select(Participant).where(Participant.given_name == "Casey")).one()
    h = world.headers(coord)
    caseload = client.get("/api/v1/caseload/engagement", headers=h).json()["items"]
    assert [(r["participant_id"], r["state"], r["days_since_release"]) for r in caseload] == [
        (str(casey.id), "first_appointment_missed", 20)
    ]
    detail = client.get(f"/api/v1/participants/{casey.id}/engagement", headers=h).json()
    states = {s["organisation_id"]: s["state"] for s in detail["services"]}
    assert states[str(cmht.id)] == "first_appointment_missed"
    assert states[str(peer.id)] == "engaged"  # met at the gate
    notices = client.get("/api/v1/notices", headers=h).json()["items"]
    kinds = {n["kind"] for n in notices if n["participant_id"] == str(casey.id)}
    assert "engagement_first_appointment_missed" in kinds
    notes = client.get(f"/api/v1/participants/{casey.id}/notes", headers=h).json()["items"]
    assert [n["kind"] for n in notes] == ["phone_call"]
    docs = client.get(f"/api/v1/participants/{casey.id}/documents", headers=h).json()["items"]
    (licence,) = [d for d in docs if d["note_id"] is not None]
    content = client.get(
        f"/api/v1/participants/{casey.id}/documents/{licence['id']}/content", headers=h
    )
    assert content.status_code == 200 and b"Licence conditions" in content.content
    # The referral letter on Casey's open referral, and the referral amended after sending.
    (letter,) = [d for d in docs if d["referral_id"] is not None]
    referral = client.get(f"/api/v1/referrals/{letter['referral_id']}", headers=h).json()
    assert [a["field"] for a in referral["amendments"]] == ["requested_by_date"]
    recipient = world.headers(next(o for o in orgs.values() if str(o.id) == referral["to_org_id"]))
    letter_url = f"/api/v1/participants/{casey.id}/documents/{letter['id']}/content"
    assert b"Referral letter" in client.get(letter_url, headers=recipient).content
    assert verify_chain(db).ok
