"""referral amendments (change log), coded decline/withdraw reasons, documents on referrals

Revision ID: 13a1c0de2f01
Revises: 98e90ab7c109
Create Date: 2026-12-02 18:30:00

Declined and withdrawn referrals from before the codes get the code `other`, so that every
closed referral can be counted by its code; their free text is kept as it was.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.models.base

revision: str = "13a1c0de2f01"
down_revision: str | None = "98e90ab7c109"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REASON_CODES = (
    "not_eligible",
    "no_capacity",
    "declined_by_person",
    "risk_cannot_be_managed",
    "duplicate",
    "moved_out_of_area",
    "needs_met_elsewhere",
    "returned_to_custody",
    "referred_in_error",
    "other",
)


def _code() -> sa.Enum:
    return sa.Enum(*REASON_CODES, name="reasoncode", native_enum=False, length=40)


def upgrade() -> None:
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decline_code", _code(), nullable=True))
        batch_op.add_column(sa.Column("withdraw_code", _code(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "withdraw_reason", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=True
            )
        )
    with op.batch_alter_table("referral_transitions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason_code", _code(), nullable=True))
    op.execute("UPDATE referrals SET decline_code = 'other' WHERE status = 'declined'")
    op.execute("UPDATE referrals SET withdraw_code = 'other' WHERE status = 'withdrawn'")
    op.execute(
        "UPDATE referral_transitions SET reason_code = 'other' "
        "WHERE to_status IN ('declined', 'withdrawn')"
    )
    op.create_table(
        "referral_amendments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("field", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("old_value", sa.JSON(), nullable=True),
        sa.Column("new_value", sa.JSON(), nullable=True),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("actor_org_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["actor_org_id"], ["organisations.id"]),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("referral_amendments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_referral_amendments_referral_id"), ["referral_id"], unique=False
        )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.alter_column("note_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.add_column(sa.Column("referral_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_documents_referral_id"), ["referral_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_documents_referral_id_referrals", "referrals", ["referral_id"], ["id"]
        )
        batch_op.create_check_constraint(
            "ck_documents_one_parent", "(note_id IS NULL) <> (referral_id IS NULL)"
        )


def downgrade() -> None:
    op.execute(
        "DELETE FROM document_contents WHERE document_id IN "
        "(SELECT id FROM documents WHERE referral_id IS NOT NULL)"
    )
    op.execute("DELETE FROM documents WHERE referral_id IS NOT NULL")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_constraint("ck_documents_one_parent", type_="check")
        batch_op.drop_constraint("fk_documents_referral_id_referrals", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_documents_referral_id"))
        batch_op.drop_column("referral_id")
        batch_op.alter_column("note_id", existing_type=sa.Uuid(), nullable=False)
    with op.batch_alter_table("referral_amendments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referral_amendments_referral_id"))
    op.drop_table("referral_amendments")
    with op.batch_alter_table("referral_transitions", schema=None) as batch_op:
        batch_op.drop_column("reason_code")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_column("withdraw_reason")
        batch_op.drop_column("withdraw_code")
        batch_op.drop_column("decline_code")
