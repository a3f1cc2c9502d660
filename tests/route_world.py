"""A synthetic world for the route audit cases, built lazily (each case pays for what it uses).

On top of tests/api/care_world.py (coordination leads, CMHT contributes, peer support is a
peer, housing has no relationship) a second participant with the same care team, both due
for release within ten days, and a protocol sharing identity with housing so coordination
can refer to it. Records are made through the API by coordination.
"""

import uuid
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.appointment import Appointment, AppointmentKind, Attendance
from app.models.notice import Notice
from app.models.organisation import Organisation, OrgKind, Role
from app.models.participant import CareRole, CareTeamMember, Participant
from tests.api.care_world import Care, build_care, member, protocol
from tests.fixtures import World

JUSTIFICATION = "Synthetic emergency: risk to life, and no way to ask the person for consent."


class RouteWorld:
    """Participants `pid` and `pid2`, their care team, and records made on demand."""

    def __init__(self, client: TestClient, world: World, db: Session) -> None:
        self.client, self.world, self.db = client, world, db
        self.care: Care = build_care(world, db)
        self.coord, self.cmht = self.care.coord, self.care.cmht
        self.peer, self.housing = self.care.peer, self.care.housing
        soon = date.today() + timedelta(days=10)
        self.care.participant.expected_release_date = soon
        second = Participant(
            given_name="Alex",
            family_name="Example",
            source_org_id=self.coord.id,
            expected_release_date=soon + timedelta(days=1),
        )
        db.add_all([self.care.participant, second])
        db.flush()
        member(db, second, self.coord, CareRole.lead)
        member(db, second, self.cmht, CareRole.contributor)
        protocol(db, OrgKind.care_coordination, OrgKind.housing, ["identity"])
        db.commit()
        self.pid, self.pid2 = self.care.pid, second.id

    # -- callers ----------------------------------------------------------------------

    def h(
        self, org: Organisation, role: Role = Role.practitioner, /, **extra: str
    ) -> dict[str, str]:
        """Headers of a new user of `org` with `role`."""
        headers = {**self.world.headers(org, role), **extra}
        self.db.commit()
        return headers

    def me(self, pid: uuid.UUID | None = None) -> dict[str, str]:
        """A participant token for the participant themself."""
        headers = self.world.headers(self.coord, Role.participant, participant_id=pid or self.pid)
        self.db.commit()
        return headers

    def partner(self, org: Organisation, *scopes: str) -> dict[str, str]:
        headers = self.world.client_headers(org, list(scopes))
        self.db.commit()
        return headers

    def url(self, tail: str = "", pid: uuid.UUID | None = None) -> str:
        return f"/api/v1/participants/{pid or self.pid}{tail}"

    def make(
        self, method: str, url: str, json: Any = None, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Set-up through the API (coordination by default); must succeed."""
        response = self.client.request(
            method, url, json=json, headers=headers or self.h(self.coord)
        )
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        return body

    # -- records, made on first use ---------------------------------------------------

    @cached_property
    def goal(self) -> dict[str, Any]:
        body = {"title": "Secure a tenancy", "horizon": "short_term_recovery"}
        return self.make("POST", self.url("/plan/goals"), {**body, "life_domain": "housing"})

    @cached_property
    def action(self) -> dict[str, Any]:
        body = {
            "goal_id": self.goal["id"],
            "description": "Ring the housing options line",
            "owner_kind": "participant",
            "due_date": "2030-01-10",
        }
        return self.make("POST", self.url("/plan/actions"), body)

    @cached_property
    def review(self) -> dict[str, Any]:
        assert self.goal
        return self.make("POST", self.url("/plan/reviews"), {"held_on": "2030-01-05"})

    def book(self, pid: uuid.UUID, hours: float) -> dict[str, Any]:
        start = datetime.now(UTC) + timedelta(hours=hours)
        body = {
            "kind": "one_to_one",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
        }
        return self.make("POST", self.url("/appointments", pid), body)

    @cached_property
    def appointment(self) -> dict[str, Any]:
        return self.book(self.pid, 24)

    def missed(self, pid: uuid.UUID, days_ago: int) -> None:
        """A did-not-attend appointment of coordination's, not followed up."""
        start = datetime.now(UTC) - timedelta(days=days_ago)
        self.db.add(
            Appointment(
                participant_id=pid,
                source_org_id=self.coord.id,
                kind=AppointmentKind.one_to_one,
                starts_at=start,
                ends_at=start + timedelta(hours=1),
                attendance=Attendance.did_not_attend,
                created_by="test",
            )
        )
        self.db.commit()

    @cached_property
    def alert(self) -> dict[str, Any]:
        body = {"kind": "self_harm", "level": "high", "notes": "Synthetic note"}
        return self.make("POST", self.url("/alerts"), body)

    @cached_property
    def screening(self) -> dict[str, Any]:
        body = {"instrument": "PHQ-9", "responses": [2, 2, 2, 1, 1, 1, 1, 1, 1]}
        return self.make("POST", self.url("/screenings"), body)

    @cached_property
    def consent(self) -> dict[str, Any]:
        body = {
            "categories": ["risk"],
            "recipient_org_kinds": ["community_mental_health"],
            "purposes": ["direct_care"],
            "method": "verbal",
        }
        return self.make("POST", self.url("/consents"), body)

    @cached_property
    def cmht_member_id(self) -> uuid.UUID:
        row = self.db.exec(
            select(CareTeamMember).where(
                CareTeamMember.participant_id == self.pid,
                CareTeamMember.organisation_id == self.cmht.id,
            )
        ).one()
        return row.id

    def refer(self, submit: bool = True, pid: uuid.UUID | None = None) -> dict[str, Any]:
        body = {
            "participant_id": str(pid or self.pid),
            "to_org_id": str(self.housing.id),
            "reason": "Needs supported accommodation on release.",
            "categories": ["identity"],
            "submit": submit,
        }
        return self.make("POST", "/api/v1/referrals", body)

    @cached_property
    def referral(self) -> dict[str, Any]:
        return self.refer(submit=True)

    @cached_property
    def draft(self) -> dict[str, Any]:
        return self.refer(submit=False)

    def break_glass(self, pid: uuid.UUID, headers: dict[str, str]) -> dict[str, Any]:
        body = {
            "reason_code": "risk_to_life",
            "justification": JUSTIFICATION,
            "categories": ["risk"],
        }
        return self.make("POST", self.url("/break-glass", pid), body, headers)

    @cached_property
    def cmht_nurse(self) -> dict[str, str]:
        return self.h(self.cmht)

    @cached_property
    def grants(self) -> list[dict[str, Any]]:
        """Two grants on the first participant and one on the second, by one CMHT nurse;
        each alerts coordination (the lead) with a notice."""
        return [self.break_glass(p, self.cmht_nurse) for p in (self.pid, self.pid, self.pid2)]

    @cached_property
    def notice(self) -> Notice:
        assert self.grants
        return self.db.exec(
            select(Notice).where(
                Notice.organisation_id == self.coord.id, Notice.participant_id == self.pid
            )
        ).first()  # type: ignore[return-value]
