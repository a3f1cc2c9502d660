"""caseload indexes: lists driven from the organisation's relationships

Revision ID: c4e1a7d2b9f3
Revises: 5a7e3c1d9b20
Create Date: 2026-12-02 13:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c4e1a7d2b9f3"
down_revision: str | None = "5a7e3c1d9b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = [
    ("ix_participants_source_org_id_id", "participants", ["source_org_id", "id"]),
    (
        "ix_participants_source_org_release",
        "participants",
        ["source_org_id", "expected_release_date", "id"],
    ),
    (
        "ix_care_team_members_org_participant",
        "care_team_members",
        ["organisation_id", "participant_id", "since", "until"],
    ),
    ("ix_referrals_to_org_participant", "referrals", ["to_org_id", "participant_id", "status"]),
    ("ix_referrals_to_org_created", "referrals", ["to_org_id", "created_at", "id"]),
    ("ix_referrals_from_org_created", "referrals", ["from_org_id", "created_at", "id"]),
]


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
