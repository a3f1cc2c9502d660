"""Statistics of care (issue 14, part 4): medians, readiness at release, engagement after
release, attendance and declines, against a world counted by hand (comments give the
counts). Runs on both backends: every figure is one SQL query there."""

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.models.appointment import Appointment, AppointmentKind, Attendance
from app.models.notes import CaseNote, NoteKind
from app.models.organisation import Organisation, OrgKind, Role
from app.models.participant import Participant, Phase
from app.models.plan import Action, ActionStatus, Goal, Horizon, LifeDomain, OwnerKind, Plan
from app.models.referral import (
    DECLINE_CODES,
    ReasonCode,
    Referral,
    ReferralStatus,
    ReferralTransition,
    Urgency,
)
from app.models.referral_milestones import MilestoneKind, ReferralMilestone
from app.models.sharing import Consent, ConsentMethod
from app.services.statistics import Scope, statistics
from tests.fixtures import World

TODAY = datetime.now(UTC).date()
R = TODAY - timedelta(days=40)  # the release day of P0..P6
Q_RELEASE = TODAY - timedelta(days=10)  # day 7 has passed for Q, day 28 not
START, END = TODAY - timedelta(days=90), TODAY


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), UTC)


def raw(table: dict) -> dict[str, int | None]:
    return {"total": table["total"]["value"]} | {k: v["value"] for k, v in table["parts"].items()}


class CareWorld:
    """Released people, their referrals, plans, appointments, notes and milestones."""

    def __init__(self, world: World) -> None:
        self.s = world.session
        self.prison = world.org("Prison", OrgKind.prison_healthcare)
        self.cmht = world.org("CMHT", OrgKind.community_mental_health)
        self.housing = world.org("Housing", OrgKind.housing)
        self.gp = world.org("GP", OrgKind.primary_care)
        self.probation = world.org("Probation", OrgKind.probation)
        self.p = [self.person(R, phone=i <= 6) for i in range(7)]
        self.q = self.person(Q_RELEASE)
        self.z = self.person(TODAY - timedelta(days=100))  # released before the range
        self.x = self.person(None)  # still in prison
        self.s.commit()
        self.cmht_refs: dict[uuid.UUID, Referral] = {}
        self.referrals()
        self.plans()
        self.appointments()
        self.contact_evidence()
        self.consents()
        self.s.commit()

    def person(self, released: date | None, phone: bool = False) -> uuid.UUID:
        row = Participant(
            source_org_id=self.prison.id,
            given_name="Synthetic",
            family_name="Person",
            phone="07700900000" if phone else None,
            phase=Phase.community if released else Phase.in_prison,
            actual_release_date=released,
        )
        self.s.add(row)
        return row.id

    def referral(
        self,
        pid: uuid.UUID,
        org: Organisation,
        status: ReferralStatus = ReferralStatus.accepted,
        accepted_after_days: float | None = None,
        decline_code: ReasonCode | None = None,
    ) -> Referral:
        submitted = at(R - timedelta(days=20))
        ref = Referral(
            participant_id=pid,
            from_org_id=self.prison.id,
            to_org_id=org.id,
            reason="Synthetic",
            urgency=Urgency.routine,
            categories=["identity"],
            status=status,
            decline_code=decline_code,
            created_by="test",
            submitted_at=submitted,
        )
        self.s.add(ref)
        self.s.flush()
        if accepted_after_days is not None:
            self.s.add(
                ReferralTransition(
                    referral_id=ref.id,
                    from_status=ReferralStatus.submitted,
                    to_status=ReferralStatus.accepted,
                    actor="test",
                    actor_org_id=org.id,
                    at=submitted + timedelta(days=accepted_after_days),
                )
            )
        return ref

    def referrals(self) -> None:
        # Housing: P0..P2 accepted before release; P5 accepted 23 days after submission,
        # i.e. 3 days after release (status accepted, but not met at release).
        for pid in self.p[:3]:
            self.referral(pid, self.housing, accepted_after_days=2)
        self.referral(self.p[5], self.housing, accepted_after_days=23)
        # GP: P0..P5 accepted before release.
        for pid in self.p[:6]:
            self.referral(pid, self.gp, accepted_after_days=1)
        # CMHT: P0..P6 and Q, accepted 1, 2, 3, 4, 5, 6, 7, 10 days after submission:
        # median of the eight = (4 + 5) / 2 = 4.5 days.
        for pid, days in zip([*self.p, self.q], (1, 2, 3, 4, 5, 6, 7, 10), strict=True):
            self.cmht_refs[pid] = self.referral(pid, self.cmht, accepted_after_days=days)
        # CMHT declined 6 (of X): 4 not eligible, 1 no capacity and 1 from before the
        # codes (no code: counted as other).
        for code in [*[ReasonCode.not_eligible] * 4, ReasonCode.no_capacity, None]:
            self.referral(self.x, self.cmht, ReferralStatus.declined, decline_code=code)
        # Z's referral to the GP was submitted in range too (release out of range).
        self.referral(self.z, self.gp, accepted_after_days=8)

    def plans(self) -> None:
        plans: dict[uuid.UUID, Plan] = {}

        def action(pid: uuid.UUID, domain: LifeDomain, text: str, done_on: date) -> None:
            plan = plans.get(pid)
            if plan is None:
                plan = plans[pid] = Plan(participant_id=pid, source_org_id=self.prison.id)
                self.s.add(plan)
                self.s.flush()
            goal = Goal(
                plan_id=plan.id,
                participant_id=pid,
                source_org_id=self.prison.id,
                title="Synthetic goal",
                horizon=Horizon.short_term_recovery,
                life_domain=domain,
                created_by="test",
            )
            self.s.add(goal)
            self.s.flush()
            self.s.add(
                Action(
                    goal_id=goal.id,
                    plan_id=plan.id,
                    participant_id=pid,
                    source_org_id=self.prison.id,
                    description=text,
                    owner_kind=OwnerKind.practitioner,
                    status=ActionStatus.done,
                    outcome_recorded_at=at(done_on),
                    created_by="test",
                )
            )

        before, after = R - timedelta(days=2), R + timedelta(days=2)
        # Accommodation by plan: P3, P4 before release; P6 only after it.
        for pid in self.p[3:5]:
            action(pid, LifeDomain.housing, "View the flat", before)
        action(self.p[6], LifeDomain.housing, "View the flat", after)
        # Medication: P0..P4 (words of the rule); P5's done step is not about medication.
        for pid in self.p[:5]:
            action(pid, LifeDomain.health, "Collect the Prescription from the pharmacy", before)
        action(self.p[5], LifeDomain.health, "Book the dentist", before)
        # Reporting instructions by plan: P3, P4.
        for pid in self.p[3:5]:
            action(pid, LifeDomain.other, "Reporting instructions explained", before)

    def appointment(
        self,
        pid: uuid.UUID,
        starts: datetime,
        attendance: Attendance | None,
        kind: AppointmentKind = AppointmentKind.one_to_one,
        source: Organisation | None = None,
        with_org: Organisation | None = None,
    ) -> None:
        self.s.add(
            Appointment(
                participant_id=pid,
                source_org_id=(source or self.prison).id,
                with_org_id=with_org.id if with_org else None,
                kind=kind,
                starts_at=starts,
                ends_at=starts + timedelta(hours=1),
                attendance=attendance,
                created_by="test",
                created_at=at(R - timedelta(days=5)),
            )
        )

    def appointments(self) -> None:
        gate = AppointmentKind.gate_meeting
        # Gate meeting on the release day: P0..P4; P5's cancelled; P6's the day after.
        for pid in self.p[:5]:
            self.appointment(pid, at(R, 9), None, gate)
        self.appointment(self.p[5], at(R, 9), Attendance.cancelled, gate)
        self.appointment(self.p[6], at(R + timedelta(days=1), 9), None, gate)
        # Reporting: probation appointments two days after release for P0..P2.
        for pid in self.p[:3]:
            self.appointment(pid, at(R + timedelta(days=2)), None, with_org=self.probation)
        # With the CMHT (the organisation seen): attended P0 (day 3, booked by the prison),
        # P3 (day 20, booked by the CMHT itself), P6 (3 days before release), Q (day 2)
        # and X; did not attend P4 (day 2) and X six times; cancelled X twice; not
        # recorded X once. In the range: attended 5, did not attend 7, cancelled 2,
        # not recorded 1 (total 15). One in the future is not counted.
        cmht = self.cmht
        self.appointment(self.p[0], at(R + timedelta(days=3)), Attendance.attended, with_org=cmht)
        self.appointment(self.p[3], at(R + timedelta(days=20)), Attendance.attended, source=cmht)
        self.appointment(self.p[6], at(R - timedelta(days=3)), Attendance.attended, with_org=cmht)
        q_day2 = at(Q_RELEASE + timedelta(days=2))
        self.appointment(self.q, q_day2, Attendance.attended, with_org=cmht)
        self.appointment(self.x, at(TODAY - timedelta(days=6)), Attendance.attended, with_org=cmht)
        dna = Attendance.did_not_attend
        self.appointment(self.p[4], at(R + timedelta(days=2)), dna, with_org=cmht)
        for i in range(6):
            self.appointment(self.x, at(TODAY - timedelta(days=5 + i)), dna, with_org=cmht)
        for i in range(2):
            day = at(TODAY - timedelta(days=3 + i))
            self.appointment(self.x, day, Attendance.cancelled, with_org=cmht)
        self.appointment(self.x, at(TODAY - timedelta(days=2)), None, with_org=cmht)
        self.appointment(self.x, at(TODAY + timedelta(days=3)), None, with_org=cmht)

    def contact_evidence(self) -> None:
        # CMHT contact notes: P1 a contact note on day 5; P5 only a letter (not contact).
        for pid, kind in ((self.p[1], NoteKind.contact), (self.p[5], NoteKind.letter)):
            self.s.add(
                CaseNote(
                    participant_id=pid,
                    source_org_id=self.cmht.id,
                    author="test",
                    kind=kind,
                    category="mental_health",
                    occurred_on=R + timedelta(days=5 if kind == NoteKind.contact else 3),
                    text="Synthetic",
                )
            )
        # "First contact made" on CMHT referrals: P0 day 1 (and again day 30: the first
        # counts), P1 day 5, P2 day 10, P3 day 20. Days from submission (R - 20): 21, 25,
        # 30, 40: four cases, median 27.5, suppressed below a threshold of 5.
        for pid, day in ((0, 1), (0, 30), (1, 5), (2, 10), (3, 20)):
            ref = self.cmht_refs[self.p[pid]]
            self.s.add(
                ReferralMilestone(
                    referral_id=ref.id,
                    participant_id=self.p[pid],
                    source_org_id=self.cmht.id,
                    kind=MilestoneKind.first_contact_made,
                    occurred_on=R + timedelta(days=day),
                    recorded_by="test",
                )
            )

    def consents(self) -> None:
        # Consent to share contact details: P0..P5 given before release; P5's withdrawn
        # the day before release. P6 has a phone but no consent.
        for i, pid in enumerate(self.p[:6]):
            self.s.add(
                Consent(
                    participant_id=pid,
                    source_org_id=self.prison.id,
                    categories=["contact", "identity"],
                    recipient_org_ids=[],
                    recipient_org_kinds=["community_mental_health"],
                    purposes=["direct_care"],
                    method=ConsentMethod.verbal,
                    recorded_by="test",
                    given_at=at(R - timedelta(days=10)),
                    withdrawn_at=at(R - timedelta(days=1)) if i == 5 else None,
                )
            )


@pytest.fixture
def care(world: World) -> CareWorld:
    return CareWorld(world)


def test_readiness_at_release_matches_the_hand_counts(care: CareWorld, db: Session) -> None:
    got = statistics(db, Scope(START, END, today=TODAY), threshold=0)["readiness_at_release"]
    met = {key: raw(table) for key, table in got.items()}
    released = 8  # P0..P6 and Q; Z was released before the range, X not at all
    expected_met = {
        "accommodation": 5,  # P0..P2 referral, P3, P4 plan (P5, P6 only after release)
        "gp_registration": 6,
        "community_treatment": 8,
        "benefits_claim": 0,
        "medication_on_release": 5,
        "gate_meeting": 5,  # P5's cancelled, P6's the day after
        "contact_confirmed": 5,  # P5's consent withdrawn, P6 none
        "reporting_instructions": 5,  # P0..P2 probation appointment, P3, P4 plan
    }
    assert met == {
        key: {"total": released, "met": n, "not_met": released - n}
        for key, n in expected_met.items()
    }
    # By the registering organisation: all of them are the prison's; none the CMHT's.
    by_cmht = statistics(db, Scope(START, END, care.cmht.id, today=TODAY), 0)
    assert raw(by_cmht["readiness_at_release"]["gate_meeting"])["total"] == 0


def test_engagement_after_release_matches_the_hand_counts(care: CareWorld, db: Session) -> None:
    cmht = statistics(db, Scope(START, END, care.cmht.id, today=TODAY), 0)
    day7, day28 = (raw(cmht["engagement_after_release"][d]) for d in ("day_7", "day_28"))
    # Day 7: P0..P6 and Q; engaged P0 (appointment day 3), P1 (note day 5), Q (day 2).
    assert day7 == {"total": 8, "engaged": 3, "not_engaged": 5}
    # Day 28: P0..P6 (Q's day 28 is ahead); engaged P0, P1, P2 (milestone day 10), P3
    # (appointment day 20). P4 did not attend, P5 a letter, P6 before release.
    assert day28 == {"total": 7, "engaged": 4, "not_engaged": 3}
    every = statistics(db, Scope(START, END, today=TODAY), 0)["engagement_after_release"]
    # Without a filter the housing (4) and GP (6) services count too, none engaged.
    assert raw(every["day_28"]) == {"total": 17, "engaged": 4, "not_engaged": 13}
    assert raw(every["day_7"]) == {"total": 18, "engaged": 3, "not_engaged": 15}


def test_the_day_boundaries_of_readiness_and_engagement(world: World, db: Session) -> None:
    """Evidence on the release day up to midnight counts for readiness, one minute later
    does not; contact on day N itself counts for day N, on day N + 1 only for day 28."""
    care = CareWorld(world)
    prison = world.org("Boundary prison", OrgKind.prison_healthcare)
    team = world.org("Boundary CMHT", OrgKind.community_mental_health)
    people = []
    for _ in range(5):
        row = Participant(
            source_org_id=prison.id,
            given_name="Synthetic",
            family_name="Person",
            phase=Phase.community,
            actual_release_date=R,
        )
        db.add(row)
        people.append(row.id)
    db.commit()
    a, b, c, d, e = people
    # Accepted by the team, submitted at noon 20 days before release: a at 23:59 on the
    # release day (met), b at 00:01 the day after (not met); c, d, e accepted earlier.
    edge = datetime.combine(R, time(23, 59), UTC) - at(R - timedelta(days=20))
    late = datetime.combine(R + timedelta(days=1), time(0, 1), UTC) - at(R - timedelta(days=20))
    refs = {
        a: care.referral(a, team, accepted_after_days=edge.total_seconds() / 86400),
        b: care.referral(b, team, accepted_after_days=late.total_seconds() / 86400),
    }
    for pid in (c, d, e):
        refs[pid] = care.referral(pid, team, accepted_after_days=1)
    # Contact: a attended on day 7; b a contact note on day 8; c the "attended" milestone
    # on day 28; d attended the day before release (not after it); e a note on day 0.
    care.appointment(a, at(R + timedelta(days=7), 18), Attendance.attended, with_org=team)
    care.appointment(d, at(R - timedelta(days=1)), Attendance.attended, with_org=team)
    for pid, day in ((b, 8), (e, 0)):
        db.add(
            CaseNote(
                participant_id=pid,
                source_org_id=team.id,
                author="test",
                kind=NoteKind.phone_call,
                category="mental_health",
                occurred_on=R + timedelta(days=day),
                text="Synthetic",
            )
        )
    db.add(
        ReferralMilestone(
            referral_id=refs[c].id,
            participant_id=c,
            source_org_id=team.id,
            kind=MilestoneKind.attended,
            occurred_on=R + timedelta(days=28),
            recorded_by="test",
        )
    )
    db.commit()
    ready = statistics(db, Scope(START, END, prison.id, today=TODAY), 0)["readiness_at_release"]
    assert raw(ready["community_treatment"]) == {"total": 5, "met": 4, "not_met": 1}
    engaged = statistics(db, Scope(START, END, team.id, today=TODAY), 0)
    engaged = engaged["engagement_after_release"]
    assert raw(engaged["day_7"]) == {"total": 5, "engaged": 2, "not_engaged": 3}  # a, e
    assert raw(engaged["day_28"]) == {"total": 5, "engaged": 4, "not_engaged": 1}  # not d


def test_attendance_medians_and_declines_match_the_hand_counts(
    care: CareWorld, db: Session
) -> None:
    got = statistics(db, Scope(START, END, care.cmht.id, today=TODAY), 0)
    assert raw(got["appointments"]) == {
        "total": 15,
        "attended": 5,
        "did_not_attend": 7,
        "cancelled": 2,
        "not_recorded": 1,
    }
    assert got["did_not_attend_rate"] == round(7 / 12, 3)
    # Accepted by the CMHT after 1..7 and 10 days: eight, median (4 + 5) / 2.
    assert got["median_days_to_accept"] == {"median_days": 4.5, "suppressed": False}
    # Without the filter the housing (2, 2, 2, 23) and GP (1 x 6, and Z's 8) join:
    # 1 x 7, 2 x 4, 3, 4, 5, 6, 7, 8, 10, 23: nineteen values, the tenth is 2.
    every = statistics(db, Scope(START, END, today=TODAY), 0)
    assert every["median_days_to_accept"]["median_days"] == 2.0
    assert got["median_days_to_first_contact"] == {"median_days": 27.5, "suppressed": False}
    codes = {code.value: 0 for code in DECLINE_CODES}
    assert raw(got["declines_by_reason"]) == {"total": 6} | codes | {
        "not_eligible": 4,
        "no_capacity": 1,
        "other": 1,
    }
    assert raw(got["referrals"]) == {
        "total": 14,
        "accepted": 8,
        "declined": 6,
        "withdrawn": 0,
        "awaiting_response": 0,
    }


def test_small_groups_are_suppressed_medians_too(
    care: CareWorld, client: TestClient, world: World
) -> None:
    commissioner = world.headers(world.org("ICB", OrgKind.voluntary), Role.commissioner)
    params = {"from": str(START), "to": str(END), "org_id": str(care.cmht.id)}
    r = client.get("/api/v1/statistics", params=params, headers=commissioner)
    assert r.status_code == 200, r.text
    body = r.json()
    # Four first contacts: under 5, so no median; eight acceptances: shown.
    assert body["median_days_to_first_contact"] == {"median_days": None, "suppressed": True}
    assert body["median_days_to_accept"] == {"median_days": 4.5, "suppressed": False}
    # Attendance: cancelled 2 + not recorded 1 < 5, so attended (5) goes too; no rate.
    assert raw(body["appointments"]) == {
        "total": 15,
        "attended": None,
        "did_not_attend": 7,
        "cancelled": None,
        "not_recorded": None,
    }
    assert body["did_not_attend_rate"] is None
    # Referrals: withdrawn 0 + awaiting 0 < 5, so declined (6) goes too; then the
    # declines table, whose total is that same count, is suppressed whole.
    assert raw(body["referrals"])["declined"] is None
    assert raw(body["declines_by_reason"]) == {"total": None} | {
        code.value: None for code in DECLINE_CODES
    }
    # Engagement at day 28 for the CMHT: 4 engaged < 5, so not engaged (3) goes too.
    assert raw(body["engagement_after_release"]["day_28"]) == {
        "total": 7,
        "engaged": None,
        "not_engaged": None,
    }
    assert_nothing_small_is_printed(body, 5)


def assert_nothing_small_is_printed(body: dict, threshold: int) -> None:
    """No count under the threshold anywhere in the document, and no hidden part of any
    table derivable from its total and shown parts."""
    tables = [v for v in body.values() if isinstance(v, dict) and "parts" in v]
    for group in ("readiness_at_release", "engagement_after_release"):
        tables += list(body[group].values())
    assert len(tables) >= 16
    for table in tables:
        figures = [table["total"], *table["parts"].values()]
        for f in figures:
            assert f["suppressed"] == (f["value"] is None)
            assert f["value"] is None or f["value"] >= threshold, json.dumps(table)
        hidden = [k for k, v in table["parts"].items() if v["suppressed"]]
        if not table["total"]["suppressed"] and hidden:
            assert len(hidden) >= 2, json.dumps(table)


def test_no_count_under_the_threshold_whatever_the_filter(
    care: CareWorld, client: TestClient, world: World
) -> None:
    commissioner = world.headers(world.org("ICB", OrgKind.voluntary), Role.commissioner)
    filters: list[dict[str, str]] = [
        {},
        {"org_id": str(care.cmht.id)},
        {"org_id": str(care.prison.id)},
        {"org_kind": "housing"},
        {"org_kind": "community_mental_health"},
    ]
    for extra in filters:
        params = {"from": str(START), "to": str(END), **extra}
        body = client.get("/api/v1/statistics", params=params, headers=commissioner).json()
        assert_nothing_small_is_printed(body, 5)
