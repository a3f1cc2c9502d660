"""Typed access requirements: `Security(get_caller, scopes=[...])` under short names."""

import uuid
from typing import Annotated

from fastapi import Security

from app.auth.caller import Caller, get_caller
from app.auth.scopes import Scope
from app.core.errors import Forbidden, Unauthorized, error_responses
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
