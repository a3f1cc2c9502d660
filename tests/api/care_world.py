"""A synthetic care setting for the care-record tests.

- `coord` (care coordination) registered the participant and leads the care team.
- `cmht` (community mental health) is a contributor; a public-task protocol shares
  coordination's plan and appointments with it; risk and mental health need consent
  (none given), so those are withheld from it with reason `no_consent`.
- `peer` (peer support) is on the care team as a peer: it sees the plan (protocol) but
  may not edit it, except the steps it owns.
- `housing` has no relationship: the participant does not exist for it (404).
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Session, select

from app.models.audit import AccessEvent
from app.models.organisation import Organisation, OrgKind, Role
from app.models.participant import CareRole, CareTeamMember, Participant
from app.models.sharing import LawfulBasis, SharingProtocol
from tests.fixtures import World


@dataclass
class Care:
    world: World
    db: Session
    coord: Organisation
    cmht: Organisation
    peer: Organisation
    housing: Organisation
    participant: Participant

    @property
    def pid(self) -> uuid.UUID:
        return self.participant.id

    # Setup is committed (to the test's outer transaction): a failing request rolls back
    # the session's current savepoint, which must not take the setup with it.
    def headers(self, org: Organisation, scope: str | None = None, **extra: str) -> dict[str, str]:
        headers = self.world.headers(org, Role.practitioner, scope, **extra)
        self.db.commit()
        return headers

    def me(self) -> dict[str, str]:
        """A participant token for the participant themself."""
        headers = self.world.headers(self.coord, Role.participant, participant_id=self.pid)
        self.db.commit()
        return headers

    def url(self, path: str = "") -> str:
        return f"/api/v1/participants/{self.pid}{path}"

    def events(self, resource: str, org: Organisation | None = None) -> list[AccessEvent]:
        stmt = select(AccessEvent).where(
            AccessEvent.participant_id == self.pid, AccessEvent.resource == resource
        )
        if org is not None:
            stmt = stmt.where(AccessEvent.actor_org_id == org.id)
        return list(self.db.exec(stmt.order_by(AccessEvent.seq)).all())


def protocol(
    db: Session,
    source: OrgKind,
    recipient: OrgKind,
    categories: list[str],
    basis: LawfulBasis = LawfulBasis.public_task,
) -> SharingProtocol:
    row = SharingProtocol(
        protocol_id=uuid.uuid4(),
        version=1,
        is_current=True,
        name=f"{source} to {recipient}",
        source_org_kind=source,
        recipient_org_kind=recipient,
        categories=categories,  # type: ignore[arg-type]
        purposes=["direct_care"],  # type: ignore[list-item]
        lawful_basis=basis,
        effective_from=date(2020, 1, 1),
        approved_by="Synthetic IG lead",
        created_by="test",
    )
    db.add(row)
    db.flush()
    return row


def member(db: Session, participant: Participant, org: Organisation, role: CareRole) -> None:
    db.add(
        CareTeamMember(
            participant_id=participant.id,
            organisation_id=org.id,
            role=role,
            source_org_id=participant.source_org_id,
            added_by="test",
            since=datetime(2024, 1, 1, tzinfo=UTC),
        )
    )
    db.flush()


def build_care(world: World, db: Session) -> Care:
    coord = world.org("Coordination", OrgKind.care_coordination)
    cmht = world.org("CMHT", OrgKind.community_mental_health)
    peer = world.org("Peers", OrgKind.peer_support)
    housing = world.org("Housing", OrgKind.housing)
    participant = Participant(given_name="Sam", family_name="Example", source_org_id=coord.id)
    db.add(participant)
    db.flush()
    member(db, participant, coord, CareRole.lead)
    member(db, participant, cmht, CareRole.contributor)
    member(db, participant, peer, CareRole.peer)
    protocol(
        db, OrgKind.care_coordination, OrgKind.community_mental_health, ["plan", "appointments"]
    )
    protocol(
        db,
        OrgKind.care_coordination,
        OrgKind.community_mental_health,
        ["risk", "mental_health"],
        LawfulBasis.consent,
    )
    protocol(db, OrgKind.care_coordination, OrgKind.peer_support, ["plan"])
    protocol(
        db,
        OrgKind.community_mental_health,
        OrgKind.care_coordination,
        ["plan", "appointments", "risk", "mental_health"],
    )
    db.commit()
    return Care(world, db, coord, cmht, peer, housing, participant)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body
