"""The transactional outbox: every change of the lifecycle leaves one thin event, written
in the same transaction; a change that is rolled back leaves none."""

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from app.models.events import DomainEvent
from app.sharing import gate as gate_module
from tests.api.referral_world import make_referral_world
from tests.integration.world import HookWorld, P

PERSONAL = ("Sam", "Example", "07700", "Northtown")


def _events(hw: HookWorld, after: int = 0) -> list[DomainEvent]:
    return list(
        hw.db.exec(
            select(DomainEvent)
            .where(DomainEvent.participant_id == hw.participant.id, col(DomainEvent.seq) > after)
            .order_by(col(DomainEvent.seq))
        ).all()
    )


def _types(hw: HookWorld) -> list[str]:
    return [e.type for e in _events(hw)]


def _ok(res: Any, code: int = 200) -> dict[str, Any]:
    assert res.status_code == code, res.text
    return dict(res.json())


def test_appointment_events(hw: HookWorld) -> None:
    booked = hw.book()
    url = f"{P}/{hw.participant.id}/appointments/{booked['id']}"
    _ok(hw.client.patch(url, json={"place": "Room 2"}, headers=hw.coord_headers))
    assert _types(hw) == ["appointment.booked", "appointment.changed"]
    [first, _] = _events(hw)
    assert first.data == {
        "appointment_id": booked["id"],
        "participant_id": str(hw.participant.id),
        "detail_url": f"{P}/{hw.participant.id}/appointments",
    }
    assert first.category == "appointments" and first.source_org_id == hw.coord.id


def test_alert_events(hw: HookWorld) -> None:
    alert = _ok(
        hw.client.post(
            f"{P}/{hw.participant.id}/alerts",
            json={"kind": "self_harm", "level": "high", "notes": "Synthetic note"},
            headers=hw.coord_headers,
        ),
        201,
    )
    _ok(
        hw.client.post(
            f"{P}/{hw.participant.id}/alerts/{alert['id']}/close",
            json={"reason": "Reviewed and resolved"},
            headers=hw.coord_headers,
        )
    )
    assert _types(hw) == ["risk_alert.raised", "risk_alert.closed"]
    assert all("Synthetic" not in str(e.data) for e in _events(hw))


def test_consent_events(hw: HookWorld) -> None:
    given = _ok(
        hw.client.post(
            f"{P}/{hw.participant.id}/consents",
            json={
                "categories": ["plan"],
                "recipient_org_ids": [str(hw.housing.id)],
                "purposes": ["direct_care"],
                "method": "verbal",
            },
            headers=hw.coord_headers,
        ),
        201,
    )
    hw.withdraw()
    assert _types(hw) == ["consent.given", "consent.withdrawn"]
    assert _events(hw)[0].data["consent_id"] == given["id"]


def test_care_team_events(hw: HookWorld) -> None:
    probation = hw.world.org("Probation", "probation")
    member = _ok(
        hw.client.post(
            f"{P}/{hw.participant.id}/care-team",
            json={"organisation_id": str(probation.id), "role": "contributor"},
            headers=hw.coord_headers,
        ),
        201,
    )
    _ok(
        hw.client.delete(
            f"{P}/{hw.participant.id}/care-team/{member['id']}", headers=hw.coord_headers
        )
    )
    events = _events(hw)
    assert [e.type for e in events] == ["care_team.joined", "care_team.ended"]
    assert events[0].party_org_ids == [str(probation.id)]


def test_plan_events(hw: HookWorld) -> None:
    _ok(
        hw.client.post(
            f"{P}/{hw.participant.id}/plan/goals",
            json={"title": "Settle in", "horizon": "short_term_recovery", "life_domain": "housing"},
            headers=hw.coord_headers,
        ),
        201,
    )
    _ok(
        hw.client.post(
            f"{P}/{hw.participant.id}/plan/reviews",
            json={"held_on": date.today().isoformat()},
            headers=hw.coord_headers,
        ),
        201,
    )
    assert _types(hw) == ["plan.changed", "plan.reviewed"]


def test_phase_and_release_date_events(hw: HookWorld) -> None:
    url = f"{P}/{hw.participant.id}"
    etag = hw.client.get(url, headers=hw.coord_headers).headers["etag"]
    new_date = (date.today() + timedelta(days=30)).isoformat()
    res = hw.client.patch(
        url,
        json={"phase": "pre_release", "expected_release_date": new_date},
        headers={**hw.coord_headers, "If-Match": etag},
    )
    _ok(res)
    assert _types(hw) == ["participant.phase_changed", "participant.release_date_changed"]
    # a PATCH that changes neither leaves no custody event
    res = hw.client.patch(
        url,
        json={"phone": "07700 900999"},
        headers={**hw.coord_headers, "If-Match": res.headers["etag"]},
    )
    _ok(res)
    assert len(_events(hw)) == 2


def test_referral_lifecycle_events(world: Any, db: Any, client: Any) -> None:
    rw = make_referral_world(world, db, client)
    created = rw.create(submit=True)
    rw.act(created["id"], "accept", rw.recipient())
    rw.act(created["id"], "start", rw.recipient())
    rw.act(created["id"], "complete", rw.recipient(), outcome="Housed")
    events = db.exec(
        select(DomainEvent)
        .where(DomainEvent.participant_id == rw.participant.id)
        .order_by(col(DomainEvent.seq))
    ).all()
    assert [e.type for e in events] == [
        "referral.submitted",
        "referral.accepted",
        "referral.started",
        "referral.completed",
    ]
    assert all(e.party_org_ids == [str(rw.housing.id)] for e in events)
    assert all(e.source_org_id == rw.coord.id for e in events)
    assert all(word not in str(e.data) for e in events for word in (*PERSONAL, "Housed"))


def test_a_draft_referral_has_no_event(world: Any, db: Any, client: Any) -> None:
    rw = make_referral_world(world, db, client)
    rw.create()
    assert (
        db.exec(select(DomainEvent).where(DomainEvent.participant_id == rw.participant.id)).all()
        == []
    )


def test_rolled_back_change_leaves_no_event(hw: HookWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commit fails after the event was written: neither the change nor the event stays."""

    def failing_append(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(gate_module, "append_events", failing_append)
    res = hw.client.post(
        f"{P}/{hw.participant.id}/alerts",
        json={"kind": "self_harm", "level": "high", "notes": "Synthetic note"},
        headers=hw.coord_headers,
    )
    assert res.status_code >= 500
    monkeypatch.undo()
    assert _events(hw) == []
    listed = hw.client.get(f"{P}/{hw.participant.id}/alerts", headers=hw.coord_headers)
    assert listed.json()["items"] == []


def test_an_event_id_is_unique_and_ordered(hw: HookWorld) -> None:
    hw.book()
    hw.book(days=6)
    first, second = _events(hw)
    assert first.seq is not None and second.seq is not None and first.seq < second.seq
    assert isinstance(first.id, uuid.UUID) and first.id != second.id
