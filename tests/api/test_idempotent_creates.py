"""Every POST that creates is retry-safe (issue 9 §5): a partner system must send an
Idempotency-Key (428 without it), a retry with the same key and body replays the first
answer without a second record, a different body is a 422, and the replay is on the
person's record like any read."""

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.models.appointment import Appointment
from app.models.audit import AccessEvent
from app.models.plan import Goal
from app.models.risk import RiskAlert
from app.models.screening import Screening
from tests.api.care_world import Care, build_care
from tests.fixtures import World

SCOPES = ["participants:read", "plans:read", "plans:write", "records:read", "records:write"]

GOAL = {"title": "Find a flat", "horizon": "short_term_recovery", "life_domain": "housing"}
SCREENING = {"instrument": "PHQ-9", "responses": [2, 2, 2, 1, 1, 1, 1, 1, 1]}
ALERT = {"kind": "self_harm", "level": "high", "notes": "Synthetic note"}
APPOINTMENT = {
    "kind": "one_to_one",
    "starts_at": "2031-03-04T10:00:00Z",
    "ends_at": "2031-03-04T11:00:00Z",
    "place": "Clinic room 2",
}

CASES: list[tuple[str, str, dict[str, Any], type, Callable[[dict[str, Any]], dict[str, Any]]]] = [
    ("goal", "/plan/goals", GOAL, Goal, lambda b: {**b, "title": "Another goal"}),
    (
        "screening",
        "/screenings",
        SCREENING,
        Screening,
        lambda b: {**b, "instrument": "GAD-7", "responses": [1] * 7},
    ),
    ("risk_alert", "/alerts", ALERT, RiskAlert, lambda b: {**b, "level": "low"}),
    ("appointment", "/appointments", APPOINTMENT, Appointment, lambda b: {**b, "place": "Room 3"}),
]


@pytest.fixture
def care(world: World, db: Session) -> Care:
    return build_care(world, db)


def _count(db: Session, model: type, pid: uuid.UUID) -> int:
    db.expire_all()
    return int(
        db.exec(select(func.count()).select_from(model).where(model.participant_id == pid)).one()
    )


@pytest.mark.parametrize(
    ("resource", "path", "body", "model", "other"), CASES, ids=[c[0] for c in CASES]
)
def test_partner_create_is_retry_safe(
    client: TestClient,
    care: Care,
    db: Session,
    resource: str,
    path: str,
    body: dict[str, Any],
    model: type,
    other: Any,
) -> None:
    partner = care.world.client_headers(care.coord, SCOPES)
    url = care.url(path)
    before = _count(db, model, care.pid)

    missing = client.post(url, json=body, headers=partner)
    assert missing.status_code == 428, missing.text
    assert missing.headers["content-type"] == "application/problem+json"
    assert _count(db, model, care.pid) == before

    keyed = {**partner, "Idempotency-Key": f"retry-{resource}"}
    first = client.post(url, json=body, headers=keyed)
    assert first.status_code == 201, first.text
    again = client.post(url, json=body, headers=keyed)
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _count(db, model, care.pid) == before + 1

    different = client.post(url, json=other(body), headers=keyed)
    assert different.status_code == 422, different.text
    assert _count(db, model, care.pid) == before + 1

    replays = db.exec(
        select(AccessEvent).where(
            AccessEvent.participant_id == care.pid, AccessEvent.action == "create_replay"
        )
    ).all()
    assert len(replays) == 1 and replays[0].outcome == "allowed"
    assert replays[0].resource_id == first.json()["id"]


def test_staff_user_may_omit_the_key(client: TestClient, care: Care, db: Session) -> None:
    """Only partner systems retry by machine: a practitioner's form post needs no key."""
    before = _count(db, Goal, care.pid)
    made = client.post(care.url("/plan/goals"), json=GOAL, headers=care.headers(care.coord))
    assert made.status_code == 201, made.text
    assert made.headers.get("ETag")
    assert _count(db, Goal, care.pid) == before + 1


def test_a_refused_create_does_not_burn_the_key(
    client: TestClient, care: Care, db: Session
) -> None:
    """A create that fails (here: a clash answered 409) leaves the key free for the retry."""
    headers = {**care.headers(care.coord), "Idempotency-Key": "book-once"}
    assert (
        client.post(
            care.url("/appointments"), json=APPOINTMENT, headers=care.headers(care.coord)
        ).status_code
        == 201
    )
    clash = client.post(care.url("/appointments"), json=APPOINTMENT, headers=headers)
    assert clash.status_code == 409, clash.text
    moved = {**APPOINTMENT, "starts_at": "2031-03-05T10:00:00Z", "ends_at": "2031-03-05T11:00:00Z"}
    retry = client.post(care.url("/appointments"), json=moved, headers=headers)
    assert retry.status_code == 201, retry.text
