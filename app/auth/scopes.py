"""Scopes cap what an endpoint may do; roles map to the scopes a user token carries."""

from enum import StrEnum

from app.models.organisation import Role


class Scope(StrEnum):
    participants_read = "participants:read"
    participants_write = "participants:write"
    plans_read = "plans:read"
    plans_write = "plans:write"
    records_read = "records:read"
    records_write = "records:write"
    referrals_read = "referrals:read"
    referrals_write = "referrals:write"
    consents_read = "consents:read"
    consents_write = "consents:write"
    audit_read = "audit:read"
    break_glass = "break_glass"
    directory_write = "directory:write"
    admin = "admin"


ALL_SCOPES: frozenset[str] = frozenset(s.value for s in Scope)

_PRACTICE = frozenset(
    {
        Scope.participants_read,
        Scope.participants_write,
        Scope.plans_read,
        Scope.plans_write,
        Scope.records_read,
        Scope.records_write,
        Scope.referrals_read,
        Scope.referrals_write,
        Scope.consents_read,
        Scope.consents_write,
        Scope.audit_read,
    }
)

ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.practitioner: _PRACTICE | {Scope.break_glass},
    Role.supervisor: _PRACTICE | {Scope.break_glass},
    Role.org_admin: _PRACTICE | {Scope.directory_write, Scope.admin},
    Role.system_admin: frozenset({Scope.admin, Scope.directory_write, Scope.audit_read}),
    Role.participant: frozenset(
        {
            Scope.participants_read,
            Scope.plans_read,
            Scope.plans_write,
            Scope.records_read,
            Scope.referrals_read,
            Scope.consents_read,
            # To withdraw their own consent; recording one stays with a practitioner
            # (app/services/consents.py).
            Scope.consents_write,
            Scope.audit_read,
        }
    ),
}

BREAK_GLASS_ROLES = frozenset({Role.practitioner, Role.supervisor})


def parse_scope(text: str | None) -> set[str]:
    """The set of scopes in a space-separated scope string."""
    return {s for s in (text or "").split(" ") if s}
