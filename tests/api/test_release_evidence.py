"""Release readiness from the care record (plan and appointments), hand-worked.

The world (all synthetic): Sam is released in 10 days (R). The coordinator leads the care
team and records the plan and appointments. Probation is on the care team with a protocol
for identity and custody only: it knows R but may not see plan or appointments. The
CMHT is on the care team with a protocol for custody, plan and appointments of the
coordinator. Prison healthcare is on the care team too (custody shared with it), but
nothing shares its records with anyone else.

Coordinator's records (R = release date):
  g_housing  housing          a_view    done     "Viewing at supported housing"
                              a_deposit planned  "Pay the deposit"
  g_benefits benefits         a_claim   planned  "Start the benefits claim"
  g_health   health           a_gp      done     "Register with a GP"           (no medication)
                              a_rx      done     "Send the prescription to the community pharmacy"
  g_daily    daily_structure  a_report  done     "Explain the reporting instructions"
  appt_gate      gate_meeting on R 09:00 with the peer mentor
  appt_off       gate_meeting on R, cancelled                          (not evidence)
  appt_early     gate_meeting on R-1                                  (not evidence)
  appt_probation supervision on R+1 with the probation organisation
"""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.models.appointment import Appointment, AppointmentKind, Attendance
from app.models.organisation import Organisation, OrgKind
from app.models.participant import CareRole, Participant
from app.models.plan import (
    Action,
    ActionStatus,
    Goal,
    Horizon,
    LifeDomain,
    OwnerKind,
    Plan,
)
from tests.api.care_world import member, protocol
from tests.api.referral_world import add_participant
from tests.fixtures import World

CARE_ITEMS = ("medication_on_release", "gate_meeting", "reporting_instructions")


@dataclass
class Rec:
    """One participant's synthetic care record, built row by row."""

    db: Session
    participant: Participant
    plans: dict[uuid.UUID, Plan] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def _plan(self) -> Plan:
        pid = self.participant.id
        if pid not in self.plans:
            plan = Plan(participant_id=pid, source_org_id=self.participant.source_org_id)
            self.db.add(plan)
            self.db.flush()
            self.plans[pid] = plan
        return self.plans[pid]

    def goal(self, name: str, org: Organisation, domain: LifeDomain) -> Goal:
        goal = Goal(
            plan_id=self._plan().id,
            participant_id=self.participant.id,
            source_org_id=org.id,
            title=f"Synthetic {domain} goal",
            horizon=Horizon.short_term_recovery,
            life_domain=domain,
            created_by="test",
        )
        self.db.add(goal)
        self.db.flush()
        self.ids[name] = str(goal.id)
        return goal

    def action(
        self,
        name: str,
        goal: Goal,
        org: Organisation,
        description: str,
        status: ActionStatus,
        resource: str | None = None,
    ) -> None:
        row = Action(
            goal_id=goal.id,
            plan_id=goal.plan_id,
            participant_id=self.participant.id,
            source_org_id=org.id,
            description=description,
            resource=resource,
            owner_kind=OwnerKind.practitioner,
            owner_org_id=org.id,
            status=status,
            created_by="test",
        )
        self.db.add(row)
        self.db.flush()
        self.ids[name] = str(row.id)

    def appointment(
        self,
        name: str,
        org: Organisation,
        kind: AppointmentKind,
        day: date,
        with_org: Organisation | None = None,
        attendance: Attendance | None = None,
    ) -> None:
        starts = datetime.combine(day, time(9, 0), tzinfo=UTC)
        row = Appointment(
            participant_id=self.participant.id,
            source_org_id=org.id,
            kind=kind,
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
            with_org_id=with_org.id if with_org else None,
            with_whom="Synthetic practitioner",
            attendance=attendance,
            created_by="test",
        )
        self.db.add(row)
        self.db.flush()
        self.ids[name] = str(row.id)


@dataclass
class Setting:
    world: World
    coord: Organisation
    probation: Organisation
    cmht: Organisation
    prison: Organisation
    peer: Organisation

    def new_participant(self, db: Session, release_in_days: int | None = 10) -> Rec:
        sam = add_participant(db, self.coord, release_in_days=release_in_days)
        for org in (self.probation, self.cmht, self.prison):
            member(db, sam, org, CareRole.contributor)
        return Rec(db, sam)


@pytest.fixture
def setting(world: World, db: Session) -> Setting:
    coord = world.org("Coordination", OrgKind.care_coordination)
    probation = world.org("Probation", OrgKind.probation)
    cmht = world.org("CMHT", OrgKind.community_mental_health)
    prison = world.org("Prison healthcare", OrgKind.prison_healthcare)
    peer = world.org("Peers", OrgKind.peer_support)
    protocol(db, OrgKind.care_coordination, OrgKind.probation, ["identity", "custody"])
    protocol(db, OrgKind.care_coordination, OrgKind.prison_healthcare, ["identity", "custody"])
    protocol(
        db,
        OrgKind.care_coordination,
        OrgKind.community_mental_health,
        ["identity", "custody", "plan", "appointments"],
    )
    db.commit()
    return Setting(world, coord, probation, cmht, prison, peer)


def release_day(rec: Rec) -> date:
    assert rec.participant.expected_release_date is not None
    return rec.participant.expected_release_date


@pytest.fixture
def sam(setting: Setting, db: Session) -> Rec:
    """The full example of the module docstring (coordinator's records only)."""
    rec = setting.new_participant(db)
    coord, r = setting.coord, release_day(rec)
    housing = rec.goal("g_housing", coord, LifeDomain.housing)
    rec.action("a_view", housing, coord, "Viewing at supported housing", ActionStatus.done)
    rec.action("a_deposit", housing, coord, "Pay the deposit", ActionStatus.planned)
    benefits = rec.goal("g_benefits", coord, LifeDomain.benefits)
    rec.action("a_claim", benefits, coord, "Start the benefits claim", ActionStatus.planned)
    health = rec.goal("g_health", coord, LifeDomain.health)
    rec.action("a_gp", health, coord, "Register with a GP", ActionStatus.done)
    rec.action(
        "a_rx",
        health,
        coord,
        "Send the prescription to the community pharmacy",
        ActionStatus.done,
    )
    daily = rec.goal("g_daily", coord, LifeDomain.daily_structure)
    rec.action("a_report", daily, coord, "Explain the reporting instructions", ActionStatus.done)
    gate = AppointmentKind.gate_meeting
    rec.appointment("appt_gate", coord, gate, r, with_org=setting.peer)
    rec.appointment("appt_off", coord, gate, r, attendance=Attendance.cancelled)
    rec.appointment("appt_early", coord, gate, r - timedelta(days=1))
    rec.appointment(
        "appt_probation",
        coord,
        AppointmentKind.supervision,
        r + timedelta(days=1),
        with_org=setting.probation,
    )
    db.commit()
    return rec


def _readiness(client: TestClient, setting: Setting, rec: Rec, org: Organisation) -> dict[str, Any]:
    res = client.get(
        f"/api/v1/participants/{rec.participant.id}/release-readiness",
        headers=setting.world.headers(org),
    )
    assert res.status_code == 200, res.text
    body: dict[str, Any] = res.json()
    return body


def _items(body: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    return {i["key"]: (i["status"], i["evidence_ids"]) for i in body["items"]}


def _notes(body: dict[str, Any]) -> dict[str, str | None]:
    return {i["key"]: i["note"] for i in body["items"]}


class TestMet:
    def test_coordinator_sees_each_item_met_from_its_records(
        self, client: TestClient, setting: Setting, sam: Rec
    ) -> None:
        ids = sam.ids
        items = _items(_readiness(client, setting, sam, setting.coord))
        # A housing goal with a done step: the goal, then its done step (not the planned one).
        assert items["accommodation"] == ("met", [ids["g_housing"], ids["a_view"]])
        # The benefits goal has only a planned step and there is no referral.
        assert items["benefits_claim"] == ("not_met", [])
        # Only the done health step that mentions a prescription counts, not the GP one.
        assert items["medication_on_release"] == ("met", [ids["g_health"], ids["a_rx"]])
        # The booked gate meeting on release day; not the cancelled one, not the day before.
        assert items["gate_meeting"] == ("met", [ids["appt_gate"]])
        # Both routes: the done step and the probation appointment the day after release.
        assert items["reporting_instructions"] == (
            "met",
            [ids["a_report"], ids["appt_probation"]],
        )

    def test_medication_from_a_substance_use_goal_via_the_resource(
        self, client: TestClient, setting: Setting, db: Session
    ) -> None:
        rec = setting.new_participant(db)
        goal = rec.goal("g_ost", setting.coord, LifeDomain.substance_use)
        rec.action(
            "a_ost",
            goal,
            setting.coord,
            "Continue opioid substitution from day one",
            ActionStatus.done,
            resource="Community pharmacy on the high street",
        )
        db.commit()
        items = _items(_readiness(client, setting, rec, setting.coord))
        assert items["medication_on_release"] == ("met", [rec.ids["g_ost"], rec.ids["a_ost"]])


class TestNotMet:
    def test_nothing_done_in_time_is_not_met(
        self, client: TestClient, setting: Setting, db: Session
    ) -> None:
        rec = setting.new_participant(db)
        coord, r = setting.coord, release_day(rec)
        housing = rec.goal("g_housing", coord, LifeDomain.housing)
        rec.action("a_view", housing, coord, "Viewing at supported housing", ActionStatus.not_done)
        health = rec.goal("g_health", coord, LifeDomain.health)
        rec.action("a_gp", health, coord, "Register with a GP", ActionStatus.done)
        rec.action("a_rx", health, coord, "Collect the prescription", ActionStatus.planned)
        # A done medication step on a goal outside health and substance use does not count.
        other = rec.goal("g_other", coord, LifeDomain.other)
        rec.action("a_meds", other, coord, "Medication leaflet given", ActionStatus.done)
        rec.action("a_report", other, coord, "Give reporting instructions", ActionStatus.planned)
        rec.appointment(
            "appt_off",
            coord,
            AppointmentKind.gate_meeting,
            r,
            attendance=Attendance.cancelled,
        )
        rec.appointment("appt_peer", coord, AppointmentKind.peer_meeting, r, with_org=setting.peer)
        rec.appointment(
            "appt_late",
            coord,
            AppointmentKind.supervision,
            r + timedelta(days=8),
            with_org=setting.probation,
        )
        rec.appointment(
            "appt_off_probation",
            coord,
            AppointmentKind.supervision,
            r,
            with_org=setting.probation,
            attendance=Attendance.cancelled,
        )
        db.commit()
        body = _readiness(client, setting, rec, setting.coord)
        items = _items(body)
        for key in ("accommodation", "benefits_claim", *CARE_ITEMS):
            assert items[key] == ("not_met", []), key
        notes = _notes(body)
        assert notes["benefits_claim"] is not None
        assert "No benefits goal" in notes["benefits_claim"]
        assert set(CARE_ITEMS) <= set(body["open_items"])

    def test_no_release_date_recorded(
        self, client: TestClient, setting: Setting, db: Session
    ) -> None:
        rec = setting.new_participant(db, release_in_days=None)
        rec.appointment(
            "appt_gate", setting.coord, AppointmentKind.gate_meeting, date.today(), setting.peer
        )
        db.commit()
        body = _readiness(client, setting, rec, setting.coord)
        items = _items(body)
        assert items["gate_meeting"] == ("not_met", [])
        assert _notes(body)["gate_meeting"] == "No release date recorded."


class TestUnknownWhenWithheld:
    def test_no_protocol_for_plan_or_appointments(
        self, client: TestClient, setting: Setting, sam: Rec
    ) -> None:
        # Probation may see custody (so it knows the release date) but nothing else.
        body = _readiness(client, setting, sam, setting.probation)
        assert body["release_date"] == release_day(sam).isoformat()
        items = _items(body)
        notes = _notes(body)
        for key in ("accommodation", "benefits_claim", *CARE_ITEMS):
            assert items[key] == ("unknown", []), key
            assert "no_protocol" in (notes[key] or ""), key
        text = str(body)
        for name, record_id in sam.ids.items():
            assert record_id not in text, name
        assert "explain the reporting instructions" not in text.lower()
        assert "prescription" not in text.lower()

    def test_hidden_evidence_never_makes_an_item_met(
        self, client: TestClient, setting: Setting, db: Session
    ) -> None:
        """Prison healthcare's records are the only medication and gate evidence; nothing
        shares them, so the CMHT (which may see the coordinator's records) gets unknown,
        and still sees the coordinator's housing evidence as met."""
        rec = setting.new_participant(db)
        coord, prison, r = setting.coord, setting.prison, release_day(rec)
        housing = rec.goal("g_housing", coord, LifeDomain.housing)
        rec.action("a_view", housing, coord, "Viewing at supported housing", ActionStatus.done)
        meds = rec.goal("g_meds", prison, LifeDomain.health)
        rec.action("a_meds", meds, prison, "Medication on release: 28 days", ActionStatus.done)
        rec.action("a_report", meds, prison, "Gave reporting instructions", ActionStatus.done)
        rec.appointment("appt_gate", prison, AppointmentKind.gate_meeting, r, setting.peer)
        rec.appointment(
            "appt_probation",
            prison,
            AppointmentKind.supervision,
            r + timedelta(days=1),
            with_org=setting.probation,
        )
        db.commit()
        hidden = ("g_meds", "a_meds", "a_report", "appt_gate", "appt_probation")

        body = _readiness(client, setting, rec, setting.cmht)
        items = _items(body)
        assert items["accommodation"] == ("met", [rec.ids["g_housing"], rec.ids["a_view"]])
        for key in CARE_ITEMS:
            assert items[key] == ("unknown", []), key
            assert "no_protocol" in (_notes(body)[key] or ""), key
        text = str(body)
        for name in hidden:
            assert rec.ids[name] not in text, name
        assert "28 days" not in text

        # Prison healthcare sees its own records: everything met from them.
        own = _items(_readiness(client, setting, rec, prison))
        assert own["medication_on_release"] == ("met", [rec.ids["g_meds"], rec.ids["a_meds"]])
        assert own["gate_meeting"] == ("met", [rec.ids["appt_gate"]])

    def test_release_date_withheld_makes_the_gate_meeting_unknown(
        self, client: TestClient, setting: Setting, world: World, db: Session, sam: Rec
    ) -> None:
        # Peer support: on the care team, may see the plan and appointments, not custody.
        member(db, sam.participant, setting.peer, CareRole.peer)
        protocol(db, OrgKind.care_coordination, OrgKind.peer_support, ["plan", "appointments"])
        db.commit()
        body = _readiness(client, setting, sam, setting.peer)
        assert body["release_date"] is None
        assert body["withheld"] == [{"category": "custody", "reason": "no_protocol"}]
        items = _items(body)
        # The gate meeting exists and is visible, but matching it to release day would
        # reveal the release date: unknown.
        assert items["gate_meeting"] == ("unknown", [])
        assert "Release date withheld (no_protocol)" in (_notes(body)["gate_meeting"] or "")
        # Plan evidence does not depend on custody.
        assert items["medication_on_release"] == ("met", [sam.ids["g_health"], sam.ids["a_rx"]])
        # The done step is enough for reporting instructions; the appointment route would
        # need the release date.
        assert items["reporting_instructions"] == ("met", [sam.ids["a_report"]])
