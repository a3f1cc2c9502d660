"""webhook secrets encrypted at rest (issue 11)

The signing secrets of webhook subscriptions were stored in clear. They are now stored
AES-256-GCM encrypted (app/services/secret_box.py) under the key file
THROUGHCARE_WEBHOOK_SECRET_KEY_PATH (created on first use). The columns widen to hold the
ciphertext and every existing row is encrypted in place; downgrade decrypts them again.

Revision ID: 11a7c3e5d902
Revises: 13a1c0de2f01
Create Date: 2026-12-02 18:45:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '11a7c3e5d902'
down_revision: str | None = '13a1c0de2f01'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("secret", "previous_secret")


def _rows(bind: sa.engine.Connection) -> list[sa.Row[tuple[object, str, str | None]]]:
    return list(
        bind.execute(sa.text("SELECT id, secret, previous_secret FROM webhook_subscriptions"))
    )


def _resize(length: int) -> None:
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.alter_column("secret", type_=sa.String(length), existing_nullable=False)
        batch.alter_column("previous_secret", type_=sa.String(length), existing_nullable=True)


def _rewrite(convert: object) -> None:
    bind = op.get_bind()
    for row_id, *values in _rows(bind):
        rid = row_id if isinstance(row_id, uuid.UUID) else uuid.UUID(str(row_id))
        new = {
            col: (convert(value, rid, col) if value else value)  # type: ignore[operator]
            for col, value in zip(_COLUMNS, values, strict=True)
        }
        bind.execute(
            sa.text(
                "UPDATE webhook_subscriptions SET secret = :secret,"
                " previous_secret = :previous_secret WHERE id = :id"
            ),
            {**new, "id": row_id},
        )


def upgrade() -> None:
    from app.services import secret_box

    _resize(255)

    def seal(value: str, rid: uuid.UUID, col: str) -> str:
        return value if secret_box.is_encrypted(value) else secret_box.encrypt(value, rid, col)

    _rewrite(seal)


def downgrade() -> None:
    from app.services import secret_box

    def unseal(value: str, rid: uuid.UUID, col: str) -> str:
        return secret_box.decrypt(value, rid, col) if secret_box.is_encrypted(value) else value

    _rewrite(unseal)
    _resize(120)
