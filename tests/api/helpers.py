"""Builders for API tests: protocols, consents and care-team rows inserted directly."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from app.models.organisation import Organisation
from app.models.participant import CareRole, CareTeamMember
from app.models.sharing import Consent, SharingProtocol

FULL_PARTICIPANT: dict[str, Any] = {
    "given_name": "Sam",
    "family_name": "Testcase",
    "preferred_name": "Sammy",
    "date_of_birth": "1990-02-03",
    "nhs_number": "9434765919",
    "prison_number": "A1234BC",
    "probation_crn": "X123456",
    "phone": "07700 900123",
    "email": "sam@example.invalid",
    "address": "1 Example Row, Testville",
    "gender": "non-binary",
    "ethnicity": "prefer not to say",
    "establishment": "HMP Exampleton",
    "expected_release_date": "2026-12-01",
    "intervention_start": "2026-10-01",
}

# Written out independently of app/sharing/fields.py: what a reviewer expects per category.
FIELDS_BY_CATEGORY: dict[str, set[str]] = {
    "identity": {
        "given_name",
        "family_name",
        "preferred_name",
        "preferred_address",
        "date_of_birth",
        "nhs_number",
        "prison_number",
        "probation_crn",
    },
    "contact": {"phone", "email", "address"},
    "protected_characteristics": {"gender", "ethnicity", "religion", "disability"},
    "custody": {
        "establishment",
        "expected_release_date",
        "actual_release_date",
        "licence_end_date",
        "phase",
    },
    "plan": {"intervention_start", "intervention_end", "lead_practitioner_id"},
}
METADATA = {"id", "version", "source_org_id", "created_at", "updated_at", "withheld"}


def fields_for(*categories: str) -> set[str]:
    """Every participant field in these categories (allowed fields appear even when empty)."""
    out: set[str] = set()
    for category in categories:
        out |= FIELDS_BY_CATEGORY[category]
    return out


def protocol(
    session: Session,
    *,
    source: Organisation | str,
    recipient: Organisation | str,
    categories: list[str],
    basis: str = "public_task",
    purposes: tuple[str, ...] = ("direct_care",),
    name: str = "Test protocol",
    effective_from: date | None = None,
    effective_to: date | None = None,
) -> SharingProtocol:
    row = SharingProtocol(
        protocol_id=uuid.uuid4(),
        version=1,
        is_current=True,
        created_by="test",
        name=name,
        source_org_id=source.id if isinstance(source, Organisation) else None,
        source_org_kind=None if isinstance(source, Organisation) else source,
        recipient_org_id=recipient.id if isinstance(recipient, Organisation) else None,
        recipient_org_kind=None if isinstance(recipient, Organisation) else recipient,
        categories=categories,
        purposes=list(purposes),
        lawful_basis=basis,
        effective_from=effective_from or date(2020, 1, 1),
        effective_to=effective_to,
        approved_by="Test IG lead",
    )
    session.add(row)
    session.commit()
    return row


def consent(
    session: Session,
    participant_id: uuid.UUID,
    source: Organisation,
    *,
    categories: list[str],
    recipient: Organisation | None = None,
    recipient_kind: str | None = None,
    purposes: tuple[str, ...] = ("direct_care",),
    expires_at: datetime | None = None,
) -> Consent:
    row = Consent(
        participant_id=participant_id,
        source_org_id=source.id,
        categories=categories,
        recipient_org_ids=[str(recipient.id)] if recipient else [],
        recipient_org_kinds=[recipient_kind] if recipient_kind else [],
        purposes=list(purposes),
        method="verbal",
        recorded_by="test",
        given_at=datetime.now(UTC) - timedelta(days=1),
        expires_at=expires_at,
    )
    session.add(row)
    session.commit()
    return row


def member(
    session: Session,
    participant_id: uuid.UUID,
    org: Organisation,
    role: CareRole = CareRole.contributor,
    until: datetime | None = None,
) -> CareTeamMember:
    row = CareTeamMember(
        participant_id=participant_id,
        organisation_id=org.id,
        role=role,
        source_org_id=org.id,
        added_by="test",
        since=datetime.now(UTC) - timedelta(days=1),
        until=until,
    )
    session.add(row)
    session.commit()
    return row
