"""users.credentials_version: a password change ends the tokens issued before it

A user token carries the account's credentials version (claim `cv`, 0 when absent, as in
every token issued before this revision). Every request already checks the account in
the database (app/auth/active.py); a token whose version is not the account's current
one no longer passes. A password change increments it.

Revision ID: 5e7a1b2c3d4f
Revises: 11a7c3e5d902
Create Date: 2026-12-03 08:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e7a1b2c3d4f"
down_revision: str | None = "11a7c3e5d902"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("credentials_version", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("credentials_version")
