"""Appointments: booking through the gate, clashes, attendance, reminders and missed lists."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.models.organisation import Organisation
from tests.api.care_world import Care, assert_problem, build_care
from tests.fixtures import World


@pytest.fixture
def care(world: World, db: Session) -> Care:
    return build_care(world, db)


def at(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def book(
    client: TestClient, care: Care, org: Organisation, start: float, hours: float = 1, **kw: Any
) -> Any:
    body = {"kind": "one_to_one", "starts_at": at(start), "ends_at": at(start + hours), **kw}
    return client.post(care.url("/appointments"), json=body, headers=care.headers(org))


class TestListAppointments:
    def test_anonymous_scope_and_visibility(self, client: TestClient, care: Care) -> None:
        assert_problem(client.get(care.url("/appointments")), 401)
        headers = care.headers(care.coord, scope="plans:read")
        assert_problem(client.get(care.url("/appointments"), headers=headers), 403)
        assert_problem(
            client.get(care.url("/appointments"), headers=care.headers(care.housing)), 404
        )
        assert care.events("appointment", care.housing)[0].outcome == "denied"

    def test_filtered_per_source_org(self, client: TestClient, care: Care) -> None:
        assert book(client, care, care.coord, 24, kind="gate_meeting").status_code == 201
        assert book(client, care, care.cmht, 72).status_code == 201
        # Peer support: no protocol for appointments from either organisation.
        body = client.get(care.url("/appointments"), headers=care.headers(care.peer)).json()
        assert body["items"] == []
        assert body["withheld"] == [
            {"category": "appointments", "reason": "no_protocol", "count": 2}
        ]
        assert care.events("appointment", care.peer)[-1].withheld == [
            {"category": "appointments", "reason": "no_protocol"}
        ]
        # The CMHT sees both (its own, and coordination's through the protocol).
        body = client.get(care.url("/appointments"), headers=care.headers(care.cmht)).json()
        assert [a["kind"] for a in body["items"]] == ["one_to_one", "gate_meeting"]
        event = care.events("appointment", care.cmht)[-1]
        assert event.outcome == "allowed" and event.categories == ["appointments"]

    def test_participant_sees_own(self, client: TestClient, care: Care) -> None:
        book(client, care, care.coord, 24)
        body = client.get(care.url("/appointments"), headers=care.me()).json()
        assert len(body["items"]) == 1


class TestCreateAppointment:
    def test_rules(self, client: TestClient, care: Care) -> None:
        assert_problem(client.post(care.url("/appointments"), json={}), 401)
        headers = care.headers(care.coord, scope="records:read")
        assert_problem(client.post(care.url("/appointments"), json={}, headers=headers), 403)
        assert_problem(book(client, care, care.housing, 10), 404)
        assert_problem(book(client, care, care.coord, 10, hours=-1), 422)
        naive = {
            "kind": "clinic",
            "starts_at": "2030-01-01T10:00:00",
            "ends_at": "2030-01-01T11:00:00",
        }
        response = client.post(
            care.url("/appointments"), json=naive, headers=care.headers(care.coord)
        )
        assert_problem(response, 422)

    def test_clash_names_visible_appointment(self, client: TestClient, care: Care) -> None:
        first = book(client, care, care.coord, 24, kind="gate_meeting").json()
        body = assert_problem(book(client, care, care.cmht, 24.5), 409)
        assert body["clashes"][0]["id"] == first["id"]
        assert "withheld_clashes" not in body
        # What the refusal disclosed is on the record (the 409 is answered, not rolled back).
        event = care.events("appointment", care.cmht)[-1]
        assert event.action == "clash_check" and event.categories == ["appointments"]

    def test_clash_with_withheld_appointment_looks_like_no_clash(
        self, client: TestClient, care: Care
    ) -> None:
        hidden = book(client, care, care.cmht, 24, place="Clinic room 4", notes="private").json()
        # The peer organisation may not see the CMHT's appointment: a booking over it is
        # answered exactly as a booking over an empty slot (a probe learns nothing).
        free = book(client, care, care.peer, 100)
        clash = book(client, care, care.peer, 24.5)
        assert clash.status_code == free.status_code == 201, clash.text
        assert set(clash.json()) == set(free.json())
        assert "Clinic" not in clash.text and "private" not in clash.text
        # The lead organisation is told, with the two ids and nothing else of either.
        notices = client.get("/api/v1/notices", headers=care.headers(care.coord)).json()
        clashes = [n for n in notices["items"] if n["kind"] == "appointment_clash"]
        assert len(clashes) == 1
        notice = clashes[0]
        assert notice["participant_id"] == str(care.pid)
        assert notice["subject_id"] == clash.json()["id"]
        assert hidden["id"] in notice["message"] and clash.json()["id"] in notice["message"]
        assert "Clinic" not in notice["message"] and "private" not in notice["message"]
        # The booking organisation gets no notice of it.
        peer_notices = client.get("/api/v1/notices", headers=care.headers(care.peer)).json()
        assert not [n for n in peer_notices["items"] if n["kind"] == "appointment_clash"]

    def test_moving_onto_a_withheld_appointment_is_not_refused(
        self, client: TestClient, care: Care
    ) -> None:
        book(client, care, care.cmht, 24)
        mine = book(client, care, care.peer, 50).json()
        response = client.patch(
            care.url(f"/appointments/{mine['id']}"),
            json={"starts_at": at(24.25), "ends_at": at(24.75)},
            headers=care.headers(care.peer),
        )
        assert response.status_code == 200, response.text
        notices = client.get("/api/v1/notices", headers=care.headers(care.coord)).json()
        assert [n["subject_id"] for n in notices["items"] if n["kind"] == "appointment_clash"] == [
            mine["id"]
        ]

    def test_cancelled_does_not_clash(self, client: TestClient, care: Care) -> None:
        first = book(client, care, care.coord, 24).json()
        response = client.patch(
            care.url(f"/appointments/{first['id']}"),
            json={"attendance": "cancelled", "cancel_reason": "Moved to the afternoon"},
            headers=care.headers(care.coord),
        )
        assert response.status_code == 200, response.text
        assert book(client, care, care.coord, 24).status_code == 201


class TestUpdateAppointment:
    def test_attendance_and_follow_up(self, client: TestClient, care: Care) -> None:
        past = book(client, care, care.coord, -3).json()
        url = care.url(f"/appointments/{past['id']}")
        headers = care.headers(care.coord)
        assert_problem(client.patch(url, json={"attendance": "did_not_attend"}), 401)
        assert_problem(
            client.patch(
                url, json={"attendance": "did_not_attend"}, headers=care.headers(care.housing)
            ),
            404,
        )
        assert_problem(
            client.patch(
                url, json={"attendance": "did_not_attend"}, headers=care.headers(care.cmht)
            ),
            403,
        )
        assert_problem(client.patch(url, json={"attendance": "cancelled"}, headers=headers), 422)
        assert_problem(
            client.patch(
                url,
                json={"attendance": "did_not_attend"},
                headers={**headers, "If-Match": '"appointment-7"'},
            ),
            412,
        )
        response = client.patch(url, json={"attendance": "did_not_attend"}, headers=headers)
        assert response.status_code == 200 and response.headers["ETag"] == '"appointment-2"'
        missed = client.get("/api/v1/appointments/missed", headers=headers).json()
        assert [a["id"] for a in missed["items"]] == [past["id"]]
        client.patch(url, json={"follow_up_note": "Rang; bus was late"}, headers=headers)
        missed = client.get("/api/v1/appointments/missed", headers=headers).json()
        assert missed["items"] == []

    def test_future_attendance_refused(self, client: TestClient, care: Care) -> None:
        future = book(client, care, care.coord, 5).json()
        response = client.patch(
            care.url(f"/appointments/{future['id']}"),
            json={"attendance": "attended"},
            headers=care.headers(care.coord),
        )
        assert_problem(response, 422)


class TestWorklists:
    def test_reminders_for_callers_org(self, client: TestClient, care: Care) -> None:
        soon = book(client, care, care.coord, 20).json()
        book(client, care, care.coord, 60)  # outside 48 h
        book(client, care, care.cmht, 30)  # another organisation's
        assert_problem(client.get("/api/v1/appointments/reminders"), 401)
        assert_problem(client.get("/api/v1/appointments/reminders", headers=care.me()), 403)
        headers = care.headers(care.coord)
        body = client.get("/api/v1/appointments/reminders", headers=headers).json()
        assert [a["id"] for a in body["items"]] == [soon["id"]]
        client.patch(
            care.url(f"/appointments/{soon['id']}"), json={"reminder_sent": True}, headers=headers
        )
        body = client.get("/api/v1/appointments/reminders", headers=headers).json()
        assert body["items"] == []
        assert care.events("appointment", care.coord)[-1].outcome == "allowed"
        # Housing has no relationship with the participant: nothing, not even counts.
        body = client.get(
            "/api/v1/appointments/reminders", headers=care.headers(care.housing)
        ).json()
        assert body == {"items": [], "next_cursor": None, "withheld": []}

    def test_hosting_org_sees_only_what_gate_allows(self, client: TestClient, care: Care) -> None:
        # Booked by the CMHT with the peer organisation: no cmht -> peer protocol.
        book(client, care, care.cmht, 10, with_org_id=str(care.peer.id))
        body = client.get("/api/v1/appointments/reminders", headers=care.headers(care.peer)).json()
        assert body["items"] == []
        assert body["withheld"][0]["count"] == 1
