"""Typed access requirements: `Security(get_caller, scopes=[...])` under short names."""

import uuid
from typing import Annotated

from fastapi import Depends, Header, Request, Security
from fastapi.security import SecurityScopes

from app.auth.caller import Caller, get_caller, oauth2
from app.auth.scopes import Scope
from app.core.db import DbSession
from app.core.errors import Forbidden, NotFound, Unauthorized, error_responses
from app.core.settings import get_settings
from app.models.organisation import Role
from app.sharing import policy

AUTH_ERRORS = error_responses(Unauthorized, Forbidden)

AnyCaller = Annotated[Caller, Security(get_caller)]
AdminCaller = Annotated[Caller, Security(get_caller, scopes=[Scope.admin])]


async def get_directory_reader(
    security_scopes: SecurityScopes,
    request: Request,
    session: DbSession,
    token: Annotated[str | None, Depends(oauth2)],
    x_purpose: Annotated[
        str | None, Header(description="Purpose of use; default direct_care.")
    ] = None,
) -> Caller | None:
    """The caller of a directory read: None for a caller without a token when
    THROUGHCARE_PUBLIC_DIRECTORY is set; otherwise (and for any token sent) as get_caller."""
    if token is None and get_settings().public_directory:
        return None
    return await get_caller(security_scopes, request, session, token, x_purpose)


# Directory reads only: entries describe services, not people (see public_directory).
DirectoryReader = Annotated[Caller | None, Security(get_directory_reader)]

# The rank rules live with the other "who may act" rules (app/sharing/policy.py).
ROLE_RANK, CLIENT_RANK = policy.ROLE_RANK, policy.CLIENT_RANK


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
    verdict = policy.may_administer_account(caller.role, account_rank)
    if isinstance(verdict, policy.Refusal):
        raise Forbidden(verdict.detail)


def require_may_grant(caller: Caller, role: Role) -> None:
    """403 unless the caller may create an account with `role` (none above their own)."""
    verdict = policy.may_grant_role(caller.role, role)
    if isinstance(verdict, policy.Refusal):
        raise Forbidden(verdict.detail)
