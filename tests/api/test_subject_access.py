"""Subject access (issue 14, part 3): every record the world put in, staff not named."""

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, SQLModel, func, select

from app.models.audit import AccessEvent
from app.models.break_glass import BreakGlassGrant, BreakGlassReason
from app.models.engagement import EngagementNotice
from app.models.movements import Movement, MovementKind
from app.models.notice import Notice
from app.models.organisation import Role
from app.services.subject_access import CHILD_SECTIONS, NOT_SECTIONS, SECTIONS
from tests.api.care_world import Care, build_care


@pytest.fixture
def care(world, db: Session) -> Care:  # type: ignore[no-untyped-def]
    return build_care(world, db)


def post(client: TestClient, care: Care, tail: str, body: dict, org=None) -> dict:  # type: ignore[no-untyped-def]
    r = client.post(care.url(tail), json=body, headers=care.headers(org or care.coord))
    assert r.status_code == 201, r.text
    return dict(r.json())


def fill(client: TestClient, care: Care) -> dict[str, str]:
    """One record of every kind; returns section -> the id of what was put in."""
    now = datetime.now(UTC)
    goal = post(
        client,
        care,
        "/plan/goals",
        {"title": "Secure a tenancy", "horizon": "short_term_recovery", "life_domain": "housing"},
    )
    action = post(
        client,
        care,
        "/plan/actions",
        {
            "goal_id": goal["id"],
            "description": "Ring the housing line",
            "owner_kind": "participant",
            "due_date": "2030-01-10",
        },
    )
    appointment = post(
        client,
        care,
        "/appointments",
        {
            "kind": "one_to_one",
            "starts_at": (now + timedelta(hours=2)).isoformat(),
            "ends_at": (now + timedelta(hours=3)).isoformat(),
        },
    )
    alert = post(
        client, care, "/alerts", {"kind": "self_harm", "level": "high", "notes": "Synthetic"}
    )
    screening = post(
        client,
        care,
        "/screenings",
        {"instrument": "PHQ-9", "responses": [2, 2, 2, 1, 1, 1, 1, 1, 1]},
    )
    consent = post(
        client,
        care,
        "/consents",
        {
            "categories": ["risk"],
            "recipient_org_ids": [str(care.cmht.id)],
            "purposes": ["direct_care"],
            "method": "verbal",
        },
    )
    restriction = post(
        client,
        care,
        "/restrictions",
        {"categories": ["risk"], "target": "org_kind", "target_org_kind": "housing"},
    )
    referral = client.post(
        "/api/v1/referrals",
        json={
            "participant_id": str(care.pid),
            "to_org_id": str(care.housing.id),
            "reason": "Synthetic",
            "urgency": "soon",
            "categories": ["plan"],
        },
        headers=care.headers(care.coord),
    )
    assert referral.status_code == 201, referral.text
    return {
        "goals": goal["id"],
        "actions": action["id"],
        "appointments": appointment["id"],
        "alerts": alert["id"],
        "screenings": screening["id"],
        "consents": consent["id"],
        "restrictions": restriction["id"],
        "referrals": referral.json()["id"],
    }


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


def fill_more(client: TestClient, care: Care, db: Session) -> dict[str, str]:
    """Notes (one amended), a document, an accepted referral with a milestone, the ending
    checklist, a restricted record, and the rows only feeds write (movement, notices)."""
    coord = care.headers(care.coord)
    review = post(
        client,
        care,
        "/plan/reviews",
        {"held_on": "2026-11-19", "attendees": ["Jo Synthetic-Staff"], "notes": "Agreed"},
    )
    note = post(
        client,
        care,
        "/notes",
        {"kind": "contact", "category": "plan", "occurred_on": "2026-11-20", "text": "Met"},
    )
    amended = client.patch(
        care.url(f"/notes/{note['id']}"),
        json={"text": "Met at the hostel", "reason": "Place added"},
        headers={**coord, "If-Match": '"note-1"'},
    )
    assert amended.status_code == 200, amended.text
    clinical = post(
        client,
        care,
        "/notes",
        {"kind": "letter", "category": "mental_health", "occurred_on": "2026-11-21", "text": "L"},
    )
    document = client.post(
        care.url("/documents"),
        params={"note_id": clinical["id"]},
        content=PDF,
        headers={
            **coord,
            "Content-Type": "application/pdf",
            "Content-Disposition": 'attachment; filename="letter.pdf"',
        },
    )
    assert document.status_code == 201, document.text
    referral = client.post(
        "/api/v1/referrals",
        json={
            "participant_id": str(care.pid),
            "to_org_id": str(care.cmht.id),
            "reason": "Synthetic",
            "categories": ["plan"],
            "submit": True,
        },
        headers=coord,
    ).json()
    cmht = care.headers(care.cmht)
    accepted = client.post(f"/api/v1/referrals/{referral['id']}/accept", json={}, headers=cmht)
    assert accepted.status_code == 200, accepted.text
    milestone = client.post(
        f"/api/v1/referrals/{referral['id']}/milestones",
        json={"kind": "first_contact_made", "occurred_on": "2026-11-25"},
        headers=cmht,
    )
    assert milestone.status_code == 201, milestone.text
    ending = client.put(
        care.url("/ending"),
        json={
            "handover_confirmed": True,
            "handover_note": "Handed over",
            "participant_told": False,
        },
        headers={**coord, "If-Match": '"ending-0"'},
    )
    assert ending.status_code == 200, ending.text
    movement = Movement(
        organisation_id=care.coord.id,
        event_id="synthetic-1",
        kind=next(iter(MovementKind)),
        participant_id=care.pid,
        occurred_at=datetime.now(UTC),
        received_by="feed",
    )
    notice = Notice(
        organisation_id=care.coord.id, kind="synthetic", participant_id=care.pid, message="M"
    )
    grant = BreakGlassGrant(
        participant_id=care.pid,
        actor="user:synthetic-staff",
        actor_org_id=care.housing.id,
        reason_code=next(iter(BreakGlassReason)),
        justification="Synthetic emergency.",
        categories=["risk"],
        granted_at=datetime.now(UTC),
        expires_at=datetime.now(UTC) + timedelta(minutes=30),
    )
    db.add_all([movement, notice, grant])
    db.flush()
    db.add(
        EngagementNotice(
            participant_id=care.pid,
            service_org_id=care.cmht.id,
            trigger="no_contact_day_7",
            release_date=datetime.now(UTC).date(),
            notice_id=notice.id,
        )
    )
    db.commit()
    flag = client.put(
        care.url("/restricted-record"),
        json={"restricted": True, "reason": "Synthetic risk", "org_ids": [str(care.cmht.id)]},
        headers=care.world.headers(care.coord, Role.org_admin),
    )
    assert flag.status_code == 200, flag.text
    return {
        "case_notes": note["id"],
        "documents": document.json()["id"],
        "referral_milestones": milestone.json()["id"],
        "movements": str(movement.id),
        "notices": str(notice.id),
        "referrals": referral["id"],
        "reviews": review["id"],
        "break_glass": str(grant.id),
    }


def test_every_table_about_the_person_is_in_the_document_row_for_row(
    client: TestClient, care: Care, db: Session
) -> None:
    put_in = fill(client, care) | fill_more(client, care, db)
    me = care.me()  # the person's login account
    tables = {t.name for t in SQLModel.metadata.sorted_tables if "participant_id" in t.c}
    sectioned = {model.__table__.name for model, _, _ in SECTIONS.values()}
    children = {"restricted_record_orgs", "case_note_versions", "referral_transitions"}
    assert tables - sectioned - children == set(NOT_SECTIONS)
    held = {
        name: db.exec(
            select(func.count()).select_from(model).where(model.participant_id == care.pid)
        ).one()
        for name, (model, _, _) in SECTIONS.items()
        if name != "disclosure_log"
    }
    admin = care.world.headers(care.coord, Role.org_admin)
    doc = client.get(care.url("/subject-access"), headers=admin).json()
    sections = doc["sections"]
    assert set(sections) == set(SECTIONS) | set(CHILD_SECTIONS)
    # Every row held, and nothing else: this world put at least one row in each.
    for name, n in held.items():
        assert len(sections[name]) == n and n >= 1, (name, n, len(sections[name]))
    for section, rid in put_in.items():
        assert rid in {str(row["id"]) for row in sections[section]}, section
    note_ids = [r["id"] for r in sections["case_notes"]]
    versions = [v for v in sections["case_note_versions"] if v["note_id"] == put_in["case_notes"]]
    assert [v["version"] for v in versions] == [1, 2] and versions[1]["reason"] == "Place added"
    assert len(sections["case_note_versions"]) == len(note_ids) + 1
    referral_ids = {r["id"] for r in sections["referrals"]}
    moves = {(h["referral_id"], h["to_status"]) for h in sections["referral_history"]}
    assert (put_in["referrals"], "accepted") in moves and {m[0] for m in moves} <= referral_ids
    (document,) = sections["documents"]
    assert document["sha256"] == hashlib.sha256(PDF).hexdigest() and "content" not in document
    named = {r["org_id"] for r in sections["restricted_record_orgs"]}
    assert named == {str(care.cmht.id), str(care.coord.id)}  # the setter is always kept
    assert sections["restricted_record"][0]["reason"] == "Synthetic risk"
    text = json.dumps(doc)
    for key in ('"actor"', '"author"', '_by"', '"password_hash"', "user:", "Synthetic-Staff"):
        assert key not in text, key
    # The person's own copy: only self-service notes and documents (mental health is not).
    mine = client.get(care.url("/subject-access"), headers=me).json()["sections"]
    assert [n["id"] for n in mine["case_notes"]] == [put_in["case_notes"]]
    assert mine["documents"] == [] and len(mine["case_note_versions"]) == 2
    assert "restricted_record" not in mine and "notices" not in mine


def test_lead_admin_gets_every_record_and_no_staff_names(
    client: TestClient, care: Care, db: Session
) -> None:
    put_in = fill(client, care)
    admin = care.world.headers(care.coord, Role.org_admin)
    r = client.get(care.url("/subject-access"), headers=admin)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["schema_version"] == "1" and doc["bounded"] is False
    assert doc["record"]["given_name"] == "Sam"
    for section, rid in put_in.items():
        assert rid in {row["id"] for row in doc["sections"][section]}, section
    assert len(doc["sections"]["care_team"]) == 3
    assert doc["sections"]["plans"] and doc["sections"]["referral_history"] is not None
    assert doc["sections"]["disclosure_log"]
    # Third-party rule: no staff identity anywhere in the document.
    text = json.dumps(doc)
    for key in ('"actor"', '_by"', '"user_id"', '"lead_practitioner_id"', "user:"):
        assert key not in text, key
    events = db.exec(
        select(AccessEvent).where(
            AccessEvent.participant_id == care.pid, AccessEvent.resource == "subject_access"
        )
    ).all()
    assert len(events) == 1 and set(events[0].categories) >= {"mental_health", "risk"}


def test_person_gets_a_bounded_copy_and_others_are_refused(client: TestClient, care: Care) -> None:
    fill(client, care)
    mine = client.get(care.url("/subject-access"), headers=care.me())
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["bounded"] is True
    assert "alerts" not in body["sections"] and "screenings" not in body["sections"]
    assert body["sections"]["restrictions"]
    assert (
        client.get(care.url("/subject-access"), headers=care.headers(care.coord)).status_code == 403
    )
    cmht_admin = care.world.headers(care.cmht, Role.org_admin)
    assert client.get(care.url("/subject-access"), headers=cmht_admin).status_code == 403
    housing_admin = care.world.headers(care.housing, Role.org_admin)
    assert client.get(care.url("/subject-access"), headers=housing_admin).status_code == 404
    assert client.get(care.url("/subject-access")).status_code == 401


def test_date_range_limits_the_sections(client: TestClient, care: Care) -> None:
    fill(client, care)
    admin = care.world.headers(care.coord, Role.org_admin)
    past = {"from": "2020-01-01", "to": "2020-12-31"}
    doc = client.get(care.url("/subject-access"), params=past, headers=admin).json()
    assert all(rows == [] for rows in doc["sections"].values())
    assert doc["record"]["given_name"] == "Sam"
    bad = client.get(
        care.url("/subject-access"),
        params={"from": "2021-01-01", "to": "2020-01-01"},
        headers=admin,
    )
    assert bad.status_code == 422
