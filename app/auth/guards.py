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


def require_may_grant(caller: Caller, role: Role) -> None:
    """Only system administrators create system administrators."""
    if role == Role.system_admin:
        require_system_admin(caller, "create system administrators")
