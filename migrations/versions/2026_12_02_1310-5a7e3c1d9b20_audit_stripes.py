"""audit stripes: one hash chain per stripe, heads advanced only by a linking trigger

Revision ID: 5a7e3c1d9b20
Revises: 42d8bf0faae9
Create Date: 2026-12-02 13:10:00

The single chain head serialised every audited transaction (issue 10). Events now go to
one of 33 chains (stripe 0: events with no participant, and every row written before this
revision, unchanged; stripes 1..32 by participant id). `audit_chain_heads` holds one row
per stripe and is advanced only by the BEFORE INSERT trigger, which refuses a row that does
not link to its stripe's head. On PostgreSQL the trigger function and the head-locking
function are SECURITY DEFINER (they run as the owner), so the application role needs no
UPDATE on the heads at all; TRUNCATE of the access log is refused by a trigger too.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "5a7e3c1d9b20"
down_revision: str | None = "42d8bf0faae9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
STRIPES = 32  # participant stripes 1..32; app.sharing.audit.STRIPES must equal this

_PG_FUNCTIONS = """
CREATE FUNCTION access_events_link() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE head_seq bigint; head_hash varchar;
BEGIN
  SELECT seq, hash INTO head_seq, head_hash FROM audit_chain_heads
   WHERE stripe = NEW.stripe FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'access event on an unknown chain stripe %', NEW.stripe;
  END IF;
  IF NEW.seq <> head_seq + 1 OR NEW.prev_hash <> head_hash THEN
    RAISE EXCEPTION 'access event does not link to the head of chain stripe %', NEW.stripe;
  END IF;
  UPDATE audit_chain_heads SET seq = NEW.seq, hash = NEW.hash WHERE stripe = NEW.stripe;
  RETURN NEW;
END $$;

CREATE FUNCTION audit_lock_heads(wanted integer[])
RETURNS TABLE(stripe smallint, seq bigint, hash varchar)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE s integer;
BEGIN
  -- One stripe at a time in ascending order: two requests touching the same stripes
  -- always lock them in the same order, so they queue instead of deadlocking.
  FOREACH s IN ARRAY (SELECT array_agg(DISTINCT x ORDER BY x) FROM unnest(wanted) AS x) LOOP
    RETURN QUERY SELECT h.stripe, h.seq, h.hash FROM audit_chain_heads AS h
      WHERE h.stripe = s FOR UPDATE;
  END LOOP;
END $$;
"""

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER access_events_link BEFORE INSERT ON access_events "
    "WHEN NOT EXISTS (SELECT 1 FROM audit_chain_heads WHERE stripe = NEW.stripe "
    "AND seq + 1 = NEW.seq AND hash = NEW.prev_hash) "
    "BEGIN SELECT RAISE(ABORT, 'access event does not link to the head of its chain'); END",
    "CREATE TRIGGER access_events_advance AFTER INSERT ON access_events "
    "BEGIN UPDATE audit_chain_heads SET seq = NEW.seq, hash = NEW.hash "
    "WHERE stripe = NEW.stripe; END",
    "CREATE TRIGGER access_events_no_update BEFORE UPDATE ON access_events "
    "BEGIN SELECT RAISE(ABORT, 'access_events is append-only'); END",
    "CREATE TRIGGER access_events_no_delete BEFORE DELETE ON access_events "
    "BEGIN SELECT RAISE(ABORT, 'access_events is append-only'); END",
)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgres():
        # The batch rebuild below recreates the table without its triggers.
        op.execute("DROP TRIGGER IF EXISTS access_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS access_events_no_delete")
    with op.batch_alter_table("access_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("stripe", sa.SmallInteger(), nullable=False, server_default="0")
        )
        batch_op.drop_constraint("pk_access_events", type_="primary")
        batch_op.create_primary_key("pk_access_events", ["stripe", "seq"])

    heads = op.create_table(
        "audit_chain_heads",
        sa.Column("stripe", sa.SmallInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("stripe", name=op.f("pk_audit_chain_heads")),
    )
    # Stripe 0 continues the old single chain from its head; the others start empty.
    old = op.get_bind().execute(sa.text("SELECT seq, hash FROM audit_chain_head WHERE id = 1"))
    seq, digest = old.one_or_none() or (0, GENESIS)
    op.bulk_insert(
        heads,
        [{"stripe": 0, "seq": seq, "hash": digest}]
        + [{"stripe": s, "seq": 0, "hash": GENESIS} for s in range(1, STRIPES + 1)],
    )
    op.drop_table("audit_chain_head")

    if _postgres():
        op.execute(_PG_FUNCTIONS)
        op.execute(
            "CREATE TRIGGER access_events_link BEFORE INSERT ON access_events "
            "FOR EACH ROW EXECUTE FUNCTION access_events_link()"
        )
        op.execute(
            "CREATE TRIGGER access_events_no_truncate BEFORE TRUNCATE ON access_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION access_events_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_chain_heads_no_truncate BEFORE TRUNCATE ON audit_chain_heads "
            "FOR EACH STATEMENT EXECUTE FUNCTION access_events_append_only()"
        )
        # Nobody calls these directly but the application (and the trigger).
        op.execute("REVOKE ALL ON FUNCTION access_events_link() FROM PUBLIC")
        op.execute("REVOKE ALL ON FUNCTION audit_lock_heads(integer[]) FROM PUBLIC")
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    striped = bind.execute(sa.text("SELECT count(*) FROM access_events WHERE stripe <> 0"))
    if striped.scalar_one():
        raise RuntimeError("access events on stripes 1..32 cannot fit the single old chain")
    if _postgres():
        op.execute("DROP TRIGGER IF EXISTS audit_chain_heads_no_truncate ON audit_chain_heads")
        op.execute("DROP TRIGGER IF EXISTS access_events_no_truncate ON access_events")
        op.execute("DROP TRIGGER IF EXISTS access_events_link ON access_events")
        op.execute("DROP FUNCTION IF EXISTS audit_lock_heads(integer[])")
        op.execute("DROP FUNCTION IF EXISTS access_events_link()")
    else:
        for name in ("link", "advance", "no_update", "no_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS access_events_{name}")
    old = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    head = bind.execute(sa.text("SELECT seq, hash FROM audit_chain_heads WHERE stripe = 0"))
    seq, digest = head.one_or_none() or (0, GENESIS)
    op.bulk_insert(old, [{"id": 1, "seq": seq, "hash": digest}])
    op.drop_table("audit_chain_heads")
    with op.batch_alter_table("access_events", schema=None) as batch_op:
        batch_op.drop_constraint("pk_access_events", type_="primary")
        batch_op.create_primary_key("pk_access_events", ["seq"])
        batch_op.drop_column("stripe")
    if not _postgres():
        for statement in _SQLITE_TRIGGERS[2:]:
            op.execute(statement)
