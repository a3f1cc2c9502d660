"""Typed access requirements: `Security(get_caller, scopes=[...])` under short names."""

import uuid
from typing import Annotated

from fastapi import Security

from app.auth.caller import Caller, get_caller
from app.auth.scopes import Scope
from app.core.errors import Forbidden, NotFound, Unauthorized, error_responses
from app.models.organisation import Role

AUTH_ERRORS = error_responses(Unauthorized, Forbidden)

AnyCaller = Annotated[Caller, Security(get_caller)]
AdminCaller = Annotated[Caller, Security(get_caller, scopes=[Scope.admin])]

# Who outranks whom when administering accounts. A partner-system client acts for its
# whole organisation (no care-team user behind it, organisation-wide scopes), so it ranks
# with the organisation's administrators: an org admin of that organisation or a system
# admin administers it, nobody below.
ROLE_RANK: dict[str, int] = {
    Role.participant: 0,
    Role.practitioner: 1,
    Role.supervisor: 2,
    Role.org_admin: 3,
    Role.system_admin: 4,
}
CLIENT_RANK = ROLE_RANK[Role.org_admin]


def may_administer_account(actor_role: str, account_rank: int) -> str | None:
    """None when `actor_role` may administer an account of `account_rank`, else why not."""
    if ROLE_RANK.get(actor_role, -1) < account_rank:
        return "You may not administer an account whose role is above your own."
    return None


def may_grant_role(actor_role: str, role: str) -> str | None:
    """None when `actor_role` may give an account `role`, else why not."""
    if ROLE_RANK.get(actor_role, -1) < ROLE_RANK[role]:
        return "You may not grant a role above your own."
    return None


def admin_org_limit(caller: Caller) -> uuid.UUID | None:
    """The one organisation an org admin may administer; None for a system admin."""
    if caller.role == Role.system_admin:
        return None
    if caller.role == Role.org_admin:
        return caller.org_id
    raise Forbidden("Only organisation and system administrators may do this.")


def require_system_admin(caller: Caller, doing: str) -> None:
    """403 unless the caller is a system administrator."""
    if admin_org_limit(caller) is not None:
        raise Forbidden(f"Only system administrators {doing}.")


def require_administers(caller: Caller, org_id: uuid.UUID) -> None:
    """404 unless the caller administers `org_id` (an org admin's other organisations do
    not exist for them)."""
    limit = admin_org_limit(caller)
    if limit is not None and limit != org_id:
        raise NotFound("No such record.")


def require_outranks(caller: Caller, account_rank: int) -> None:
    """403 unless the caller may administer an account of this rank."""
    reason = may_administer_account(caller.role, account_rank)
    if reason is not None:
        raise Forbidden(reason)


def require_may_grant(caller: Caller, role: Role) -> None:
    """403 unless the caller may create an account with `role` (none above their own)."""
    reason = may_grant_role(caller.role, role)
    if reason is not None:
        raise Forbidden(reason)
