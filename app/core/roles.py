"""Least privilege on PostgreSQL: what the application role may do (docs/production-roles.md).

The owner role runs the migrations and owns every table, trigger and function. The
application role owns nothing, so it cannot ALTER, DISABLE or DROP a trigger; it may read
and write the care record, but on the access log only SELECT and INSERT, and on the chain
heads only SELECT (the heads advance inside the owner's SECURITY DEFINER insert trigger).
"""

from dataclasses import dataclass

from sqlalchemy import Connection, text

# Tables whose rows the application role may insert but never change or remove.
APPEND_ONLY = ("access_events",)
# Tables the application role may only read.
READ_ONLY = ("audit_chain_heads", "alembic_version")


@dataclass(frozen=True)
class GrantReport:
    """What `grant_app_role` set, for the CLI to print."""

    role: str
    schema: str
    tables: int
    append_only: tuple[str, ...]
    read_only: tuple[str, ...]


def may_grant_to_role(
    *, exists: bool, is_owner: bool, superuser: bool, owns: int, inherits_owner: bool
) -> str | None:
    """A role the grants make sense for: one that exists and cannot act as the owner."""
    if not exists:
        return "the role does not exist (CREATE ROLE … LOGIN first)"
    if is_owner:
        return "that is the role running the migrations; the service needs its own role"
    if superuser:
        return "the role is a superuser: it bypasses every privilege and trigger guard"
    if owns:
        return f"the role owns {owns} objects in the schema; the application role owns nothing"
    if inherits_owner:
        return "the role is a member of the owning role and could act as it"
    return None


def grant_app_role(conn: Connection, role: str) -> GrantReport:
    """Set the application role's privileges on every table (idempotent; run as owner)."""
    facts = conn.execute(
        text(
            "SELECT r.oid IS NOT NULL, r.rolname = current_user, coalesce(r.rolsuper, false), "
            "(SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid "
            "   AND c.relnamespace = "
            "     (SELECT oid FROM pg_namespace WHERE nspname = current_schema())), "
            "coalesce(pg_has_role(r.rolname, "
            "   (SELECT tableowner FROM pg_tables WHERE tablename = 'access_events' "
            "      AND schemaname = current_schema()), 'USAGE'), false), "
            "current_schema() "
            "FROM (SELECT CAST(:role AS name) AS wanted) w "
            "LEFT JOIN pg_roles r ON r.rolname = w.wanted"
        ),
        {"role": role},
    ).one()
    exists, is_owner, superuser, owns, inherits, schema = facts
    refusal = may_grant_to_role(
        exists=bool(exists),
        is_owner=bool(is_owner),
        superuser=bool(superuser),
        owns=int(owns or 0),
        inherits_owner=bool(inherits),
    )
    if refusal is not None:
        raise ValueError(refusal)
    quote = conn.dialect.identifier_preparer.quote
    r, s = quote(role), quote(str(schema))
    statements = [
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
        f"GRANT EXECUTE ON FUNCTION {s}.audit_lock_heads(integer[]) TO {r}",
        # Tables a later migration creates are usable at once; `db grant` after every
        # migration still re-applies the exceptions below.
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {r}",
    ]
    statements += [f"REVOKE UPDATE, DELETE ON {s}.{t} FROM {r}" for t in APPEND_ONLY]
    statements += [f"REVOKE INSERT, UPDATE, DELETE ON {s}.{t} FROM {r}" for t in READ_ONLY]
    for statement in statements:
        conn.execute(text(statement))
    tables = conn.execute(
        text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
    ).scalar_one()
    return GrantReport(role, str(schema), int(tables), APPEND_ONLY, READ_ONLY)
