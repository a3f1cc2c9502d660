"""A small synthetic world for referral tests: a coordinator refers a person to housing."""

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.models.organisation import Organisation, OrgKind
from app.models.participant import CareRole, CareTeamMember, Participant
from app.models.sharing import Consent, ConsentMethod, LawfulBasis, SharingProtocol
from tests.fixtures import World

URL = "/api/v1/referrals"


def add_protocol(
    db: Session,
    source_kind: OrgKind,
    recipient_kind: OrgKind,
    categories: list[str],
    basis: LawfulBasis = LawfulBasis.public_task,
) -> SharingProtocol:
    protocol = SharingProtocol(
        name=f"{source_kind} to {recipient_kind}",
        source_org_kind=source_kind,
        recipient_org_kind=recipient_kind,
        categories=categories,
        purposes=["direct_care"],
        lawful_basis=basis,
        effective_from=date(2020, 1, 1),
        approved_by="IG lead",
        protocol_id=uuid.uuid4(),
        version=1,
        is_current=True,
        created_by="test",
    )
    db.add(protocol)
    db.flush()
    return protocol


def add_consent(
    db: Session, participant: Participant, categories: list[str], recipient: Organisation
) -> Consent:
    consent = Consent(
        participant_id=participant.id,
        source_org_id=participant.source_org_id,
        categories=categories,
        recipient_org_ids=[str(recipient.id)],
        recipient_org_kinds=[],
        purposes=["direct_care"],
        method=ConsentMethod.verbal,
        recorded_by="test",
    )
    db.add(consent)
    db.commit()  # a failing request rolls back to the last commit (tests/fixtures.py)
    return consent


def add_participant(
    db: Session, source: Organisation, release_in_days: int | None = 10, **fields: Any
) -> Participant:
    values: dict[str, Any] = {
        "given_name": "Sam",
        "family_name": "Example",
        "phone": "07700 900123",
        "establishment": "HMP Northtown",
        "expected_release_date": (
            date.today() + timedelta(days=release_in_days) if release_in_days is not None else None
        ),
    }
    values.update(fields)
    participant = Participant(source_org_id=source.id, **values)
    db.add(participant)
    db.flush()
    db.add(
        CareTeamMember(
            participant_id=participant.id,
            organisation_id=source.id,
            role=CareRole.lead,
            source_org_id=source.id,
            added_by="test",
        )
    )
    db.flush()
    return participant


@dataclass
class ReferralWorld:
    world: World
    db: Session
    client: TestClient
    coord: Organisation
    housing: Organisation
    participant: Participant
    referrer_headers: dict[str, str]
    recipient_headers: dict[str, str]

    def referrer(self) -> dict[str, str]:
        return dict(self.referrer_headers)

    def recipient(self) -> dict[str, str]:
        return dict(self.recipient_headers)

    def body(self, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "participant_id": str(self.participant.id),
            "to_org_id": str(self.housing.id),
            "reason": "Needs supported accommodation on release.",
            "urgency": "soon",
            "categories": ["identity"],
        }
        body.update(extra)
        return body

    def create(self, **extra: Any) -> dict[str, Any]:
        res = self.client.post(URL, json=self.body(**extra), headers=self.referrer())
        assert res.status_code == 201, res.text
        return dict(res.json())

    def act(self, referral_id: str, action: str, headers: dict[str, str], **body: Any) -> Any:
        return self.client.post(f"{URL}/{referral_id}/{action}", json=body or None, headers=headers)


def make_referral_world(world: World, db: Session, client: TestClient) -> ReferralWorld:
    """Coordinator (source, lead) -> housing; identity and custody by protocol; contact by
    consent-based protocol; nothing covers mental_health."""
    coord = world.org("Coordination", OrgKind.care_coordination)
    housing = world.org("Housing", OrgKind.housing)
    participant = add_participant(db, coord)
    add_protocol(db, OrgKind.care_coordination, OrgKind.housing, ["identity", "custody"])
    add_protocol(db, OrgKind.care_coordination, OrgKind.housing, ["contact"], LawfulBasis.consent)
    referrer, recipient = world.headers(coord), world.headers(housing)
    # Commit the setup: a failing request rolls the shared session back to its last commit.
    db.commit()
    return ReferralWorld(world, db, client, coord, housing, participant, referrer, recipient)
