"""Engagement after release: hand-worked examples over HTTP, withheld evidence, notices.

The world (tests/api/care_world.py): coordination leads the care team; the CMHT and a peer
service are members. The person was released ten days ago unless a test says otherwise.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.core.settings import get_settings
from app.models.appointment import Appointment, AppointmentKind, Attendance
from app.models.engagement import EngagementNotice
from app.models.notes import CaseNote, NoteKind
from app.models.notice import Notice
from app.models.organisation import Organisation, OrgKind
from app.models.participant import Phase
from app.services.engagement_notices import scan
from app.sharing.categories import Category
from tests.api.care_world import Care, assert_problem, build_care, protocol
from tests.fixtures import World

TODAY = datetime.now(UTC).date()


@pytest.fixture
def care(world: World, db: Session) -> Care:
    care = build_care(world, db)
    release(care, days_ago=10)
    return care


def release(care: Care, days_ago: int) -> None:
    care.participant.phase = Phase.community
    care.participant.actual_release_date = TODAY - timedelta(days=days_ago)
    care.db.add(care.participant)
    care.db.commit()


def day(care: Care, n: int, hour: int = 10) -> datetime:
    """Day n after release (day 0 is the release day), at `hour` UTC."""
    released = care.participant.actual_release_date
    assert released is not None
    return datetime(released.year, released.month, released.day, hour, tzinfo=UTC) + timedelta(
        days=n
    )


def appointment(
    care: Care, org: Organisation, on: datetime, attendance: Attendance | None
) -> Appointment:
    row = Appointment(
        participant_id=care.pid,
        source_org_id=org.id,
        kind=AppointmentKind.one_to_one,
        starts_at=on,
        ends_at=on + timedelta(hours=1),
        attendance=attendance,
        created_by="test",
    )
    care.db.add(row)
    care.db.commit()
    return row


def note(care: Care, org: Organisation, on: date, kind: NoteKind = NoteKind.phone_call) -> CaseNote:
    row = CaseNote(
        participant_id=care.pid,
        source_org_id=org.id,
        kind=kind,
        category=Category.plan,
        occurred_on=on,
        text="Spoke on the phone after release.",
        author="test",
    )
    care.db.add(row)
    care.db.commit()
    return row


def view(client: TestClient, care: Care, org: Organisation) -> dict[str, Any]:
    response = client.get(care.url("/engagement"), headers=care.headers(org))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def by_org(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["organisation_id"]: s for s in body["services"]}


def notices(care: Care) -> list[tuple[str, str]]:
    rows = care.db.exec(
        select(Notice).where(Notice.participant_id == care.pid).order_by(Notice.subject_id)
    ).all()
    return sorted((n.organisation_id.hex, str(n.subject_id).split(":")[1]) for n in rows)


class TestHandWorked:
    def test_day_10_missed_engaged_and_silent(self, client: TestClient, care: Care) -> None:
        """Day 10: the CMHT's first appointment (day 2) was missed; coordination phoned on
        day 1; the peer service has had no contact. The most urgent state is the person's."""
        missed = appointment(care, care.cmht, day(care, 2), Attendance.did_not_attend)
        call = note(care, care.coord, care.participant.actual_release_date + timedelta(days=1))
        body = view(client, care, care.coord)
        assert (body["state"], body["days_since_release"]) == ("first_appointment_missed", 10)
        services = by_org(body)
        cmht, coord, peer = (services[str(o.id)] for o in (care.cmht, care.coord, care.peer))
        assert cmht["state"] == "first_appointment_missed"
        assert cmht["evidence_ids"] == [str(missed.id)] and cmht["why"] == ["care_team"]
        assert coord["state"] == "engaged" and coord["evidence_ids"] == [str(call.id)]
        assert peer["state"] == "no_contact_yet" and peer["evidence_ids"] == []
        event = care.events("engagement", care.coord)[-1]
        assert event.outcome == "allowed"
        assert {"custody", "plan", "appointments"} <= set(event.categories)

    def test_later_attendance_means_engaged(self, client: TestClient, care: Care) -> None:
        appointment(care, care.cmht, day(care, 2), Attendance.did_not_attend)
        seen = appointment(care, care.cmht, day(care, 5), Attendance.attended)
        cmht = by_org(view(client, care, care.coord))[str(care.cmht.id)]
        assert cmht["state"] == "engaged" and cmht["evidence_ids"] == [str(seen.id)]

    def test_early_days_and_booked_ahead_are_not_yet_due(
        self, client: TestClient, care: Care
    ) -> None:
        release(care, days_ago=3)
        ahead = appointment(care, care.cmht, day(care, 6), None)
        body = view(client, care, care.coord)
        assert body["state"] == "not_yet_due" and body["days_since_release"] == 3
        services = by_org(body)
        assert services[str(care.cmht.id)]["first_appointment_id"] == str(ahead.id)
        assert {s["state"] for s in services.values()} == {"not_yet_due"}
        assert notices(care) == []
        # Day 10: the CMHT's day-6 appointment went unrecorded; coordination has booked
        # one for day 12; the peer service has been silent.
        release(care, days_ago=10)
        ahead.starts_at, ahead.ends_at = day(care, 6), day(care, 6, hour=11)
        care.db.add(ahead)
        care.db.commit()
        appointment(care, care.coord, day(care, 12), None)
        body = view(client, care, care.coord)
        services = by_org(body)
        assert services[str(care.coord.id)]["state"] == "not_yet_due"
        assert services[str(care.cmht.id)]["state"] == "no_contact_yet"
        assert "not recorded" in services[str(care.cmht.id)]["note"]
        assert services[str(care.peer.id)]["state"] == "no_contact_yet"
        assert body["state"] == "no_contact_yet"

    def test_an_appointment_withheld_from_the_lead_is_unknown(
        self, client: TestClient, care: Care
    ) -> None:
        """Coordination has no protocol for the peer service's appointments: a missed peer
        meeting is `unknown` to it (and raises no notice), never `no_contact_yet`."""
        appointment(care, care.peer, day(care, 2), Attendance.did_not_attend)
        peer = by_org(view(client, care, care.coord))[str(care.peer.id)]
        assert peer["state"] == "unknown" and peer["evidence_ids"] == []
        assert all(str(care.peer.id) not in s for _, s in notices(care))

    def test_cancelled_and_pre_release_appointments_do_not_count(
        self, client: TestClient, care: Care
    ) -> None:
        appointment(care, care.cmht, day(care, -3), Attendance.attended)  # in prison
        appointment(care, care.cmht, day(care, 2), Attendance.cancelled)
        cmht = by_org(view(client, care, care.coord))[str(care.cmht.id)]
        assert cmht["state"] == "no_contact_yet" and cmht["first_appointment_id"] is None

    def test_not_released(self, client: TestClient, care: Care, db: Session) -> None:
        care.participant.phase = Phase.pre_release
        care.participant.actual_release_date = None
        db.add(care.participant)
        db.commit()
        assert view(client, care, care.coord)["state"] == "not_released"


class TestWithheld:
    def test_custody_withheld_means_unknown(self, client: TestClient, care: Care) -> None:
        body = view(client, care, care.peer)
        assert body["state"] == "unknown" and body["services"] == []
        assert body["withheld"] == [{"category": "custody", "reason": "no_protocol"}]
        assert body["days_since_release"] is None

    def test_withheld_appointments_make_a_service_unknown(
        self, client: TestClient, care: Care, db: Session
    ) -> None:
        """The peer may see custody and the plan, not the CMHT's appointments: whether the
        CMHT's first appointment was kept is unknown to it, not 'missed'."""
        protocol(db, OrgKind.care_coordination, OrgKind.peer_support, ["custody"])
        db.commit()
        appointment(care, care.cmht, day(care, 2), Attendance.did_not_attend)
        body = view(client, care, care.peer)
        cmht = by_org(body)[str(care.cmht.id)]
        assert cmht["state"] == "unknown" and cmht["evidence_ids"] == []
        assert cmht["first_appointment_id"] is None
        assert "withheld" in cmht["note"]
        assert body["state"] == "no_contact_yet"  # the peer's own: nothing since release
        assert not notices(care)  # the peer does not lead: reads raise nothing

    def test_stranger_and_participant(self, client: TestClient, care: Care) -> None:
        assert_problem(client.get(care.url("/engagement")), 401)
        assert_problem(client.get(care.url("/engagement"), headers=care.headers(care.housing)), 404)
        mine = client.get(care.url("/engagement"), headers=care.me())
        assert mine.status_code == 200 and mine.json()["days_since_release"] == 10
        assert not notices(care)


class TestNotices:
    def test_notices_on_day_n_once(self, client: TestClient, care: Care, db: Session) -> None:
        appointment(care, care.cmht, day(care, 2), Attendance.did_not_attend)
        note(care, care.coord, care.participant.actual_release_date + timedelta(days=1))
        view(client, care, care.coord)
        expected = [
            (care.coord.id.hex, "first_appointment_missed"),
            (care.coord.id.hex, "no_contact_day_7"),
            (care.coord.id.hex, "no_contact_day_7"),
        ]
        assert notices(care) == expected
        subjects = {n.subject_id for n in db.exec(select(Notice)).all()}
        assert f"{care.peer.id}:no_contact_day_7" in subjects
        assert f"{care.cmht.id}:first_appointment_missed" in subjects
        view(client, care, care.coord)  # a second read raises nothing new
        assert scan(db) == {"participants": 1, "notices": 0}
        assert len(notices(care)) == 3
        # Day 30: the scan raises the day-28 notices, once.
        later = datetime.now(UTC) + timedelta(days=20)
        assert scan(db, now=later)["notices"] == 2
        assert scan(db, now=later)["notices"] == 0
        assert len(db.exec(select(EngagementNotice)).all()) == 5
        listed = client.get("/api/v1/notices", headers=care.headers(care.coord)).json()
        kinds = sorted(n["kind"] for n in listed["items"] if n["participant_id"] == str(care.pid))
        assert kinds == ["engagement_first_appointment_missed"] + ["engagement_no_contact"] * 4

    def test_notices_come_with_events_for_the_lead_alone(
        self, client: TestClient, care: Care, db: Session
    ) -> None:
        """The CMHT may see coordination's appointments, but an engagement event is worked
        out from the lead's view: it reaches the lead and nobody else."""
        appointment(care, care.cmht, day(care, 2), Attendance.did_not_attend)
        view(client, care, care.coord)

        def feed(org: Organisation) -> list[str]:
            headers = care.world.headers(org, "org_admin")
            db.commit()
            res = client.get("/api/v1/events", headers=headers)
            assert res.status_code == 200, res.text
            return [e["type"] for e in res.json()["items"] if e["type"].startswith("engagement.")]

        raised = db.exec(select(Notice.kind).where(Notice.participant_id == care.pid)).all()
        # One event per notice: engagement_no_contact -> engagement.no_contact.
        expected = sorted("engagement." + k.removeprefix("engagement_") for k in raised)
        assert "engagement.first_appointment_missed" in expected and len(expected) >= 2
        assert sorted(feed(care.coord)) == expected
        assert feed(care.cmht) == [] and feed(care.peer) == []
        assert scan(db)["notices"] == 0  # no second notice, so no second event
        assert sorted(feed(care.coord)) == expected

    def test_notice_days_come_from_settings(
        self, client: TestClient, care: Care, db: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("THROUGHCARE_ENGAGEMENT_NOTICE_DAYS", "[3]")
        get_settings.cache_clear()
        try:
            assert scan(db)["notices"] == 3  # day 10 >= 3: coord, CMHT and peer silent
        finally:
            monkeypatch.delenv("THROUGHCARE_ENGAGEMENT_NOTICE_DAYS")
            get_settings.cache_clear()
        assert {s for _, s in notices(care)} == {"no_contact_day_3"}


class TestCaseload:
    def test_lists_released_people_with_state(
        self, client: TestClient, care: Care, world: World, db: Session
    ) -> None:
        appointment(care, care.cmht, day(care, 2), Attendance.did_not_attend)
        url = "/api/v1/caseload/engagement"
        body = client.get(url, headers=care.headers(care.coord)).json()
        row = next(r for r in body["items"] if r["participant_id"] == str(care.pid))
        assert row["state"] == "first_appointment_missed" and row["days_since_release"] == 10
        assert row["services"] == {"first_appointment_missed": 1, "no_contact_yet": 2}
        only = client.get(url + "?state=engaged", headers=care.headers(care.coord)).json()
        assert all(r["participant_id"] != str(care.pid) for r in only["items"])
        recent = client.get(url + "?released_within_days=5", headers=care.headers(care.coord))
        assert all(r["participant_id"] != str(care.pid) for r in recent.json()["items"])
        assert client.get(url, headers=care.headers(care.housing)).json()["items"] == []
        # The peer may not see custody: it is not told who was released.
        assert client.get(url, headers=care.headers(care.peer)).json()["items"] == []
        assert_problem(client.get(url, headers=care.me()), 403)
        assert_problem(client.get(url + "?state=lost", headers=care.headers(care.coord)), 422)


class TestMilestoneEvidence:
    def test_referral_milestones_count(self, client: TestClient, care: Care, db: Session) -> None:
        """Housing accepted a referral; its "first contact made" milestone (day 4) is
        contact, so coordination sees housing as engaged, with the milestone as evidence."""
        from app.models.referral import Referral, ReferralStatus, Urgency
        from app.models.referral_milestones import MilestoneKind, ReferralMilestone

        ref = Referral(
            participant_id=care.pid,
            from_org_id=care.coord.id,
            to_org_id=care.housing.id,
            reason="Accommodation on release.",
            urgency=Urgency.routine,
            categories=["identity"],
            status=ReferralStatus.accepted,
            created_by="test",
        )
        db.add(ref)
        db.flush()
        released = care.participant.actual_release_date
        assert released is not None
        before = ReferralMilestone(
            referral_id=ref.id,
            participant_id=care.pid,
            source_org_id=care.housing.id,
            kind=MilestoneKind.first_contact_made,
            occurred_on=released - timedelta(days=5),  # in-reach, before the gate
            recorded_by="test",
        )
        db.add(before)
        db.commit()
        housing = by_org(view(client, care, care.coord))[str(care.housing.id)]
        assert housing["why"] == ["referral"] and housing["state"] == "no_contact_yet"
        dna = ReferralMilestone(
            referral_id=ref.id,
            participant_id=care.pid,
            source_org_id=care.housing.id,
            kind=MilestoneKind.did_not_attend,
            occurred_on=released + timedelta(days=2),
            recorded_by="test",
        )
        db.add(dna)
        db.commit()
        housing = by_org(view(client, care, care.coord))[str(care.housing.id)]
        assert housing["state"] == "first_appointment_missed"
        assert housing["evidence_ids"] == [str(dna.id)]
        contact = ReferralMilestone(
            referral_id=ref.id,
            participant_id=care.pid,
            source_org_id=care.housing.id,
            kind=MilestoneKind.first_contact_made,
            occurred_on=released + timedelta(days=4),
            recorded_by="test",
        )
        db.add(contact)
        db.commit()
        housing = by_org(view(client, care, care.coord))[str(care.housing.id)]
        assert housing["state"] == "engaged" and housing["evidence_ids"] == [str(contact.id)]


def test_a_concurrent_scan_cannot_raise_a_notice_twice(
    client: TestClient, care: Care, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two scans that both find no ledger row (a race) insert one notice: the ledger's
    unique key refuses the second, which is skipped without failing the scan."""
    from app.services import engagement_notices

    assert scan(db)["notices"] == 3
    db.commit()
    monkeypatch.setattr(engagement_notices, "already_raised", lambda *a: False)
    assert scan(db)["notices"] == 0
    db.commit()
    assert len(notices(care)) == 3
    assert len(db.exec(select(EngagementNotice)).all()) == 3
