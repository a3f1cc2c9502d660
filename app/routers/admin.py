"""Administration of organisations, users and API clients (scope `admin`)."""

import uuid

from fastapi import APIRouter, status
from sqlmodel import select

from app.auth.guards import (
    AUTH_ERRORS,
    CLIENT_RANK,
    ROLE_RANK,
    AdminCaller,
    admin_org_limit,
    require_administers,
    require_may_grant,
    require_outranks,
    require_system_admin,
)
from app.core.db import DbSession
from app.core.errors import Conflict, NotFound, error_responses
from app.core.pagination import Page, Paging, paginate
from app.models.organisation import (
    ApiClient,
    ApiClientCreate,
    ApiClientCreated,
    ApiClientRead,
    ApiClientUpdate,
    Organisation,
    OrganisationCreate,
    OrganisationRead,
    OrganisationUpdate,
    User,
    UserCreate,
    UserRead,
    UserUpdate,
)
from app.services import accounts

router = APIRouter(prefix="/api/v1/admin", tags=["admin"], responses=AUTH_ERRORS)


@router.get("/organisations", response_model=Page[OrganisationRead])
def list_organisations(
    caller: AdminCaller, session: DbSession, paging: Paging
) -> Page[OrganisationRead]:
    """List organisations (an org admin sees their own)."""
    limit = admin_org_limit(caller)
    stmt = select(Organisation)
    if limit is not None:
        stmt = stmt.where(Organisation.id == limit)
    rows, cursor = paginate(session, stmt, [Organisation.created_at, Organisation.id], paging)
    return Page(items=[OrganisationRead.model_validate(r) for r in rows], next_cursor=cursor)


@router.post(
    "/organisations",
    response_model=OrganisationRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Conflict),
)
def create_organisation(
    caller: AdminCaller, session: DbSession, data: OrganisationCreate
) -> OrganisationRead:
    """Register an organisation (system admins only)."""
    require_system_admin(caller, "register organisations")
    return OrganisationRead.model_validate(accounts.create_organisation(session, data))


@router.get(
    "/organisations/{organisation_id}",
    response_model=OrganisationRead,
    responses=error_responses(NotFound),
)
def read_organisation(
    caller: AdminCaller, session: DbSession, organisation_id: uuid.UUID
) -> OrganisationRead:
    """One organisation."""
    require_administers(caller, organisation_id)
    return OrganisationRead.model_validate(accounts.get_organisation(session, organisation_id))


@router.patch(
    "/organisations/{organisation_id}",
    response_model=OrganisationRead,
    responses=error_responses(NotFound, Conflict),
)
def update_organisation(
    caller: AdminCaller, session: DbSession, organisation_id: uuid.UUID, data: OrganisationUpdate
) -> OrganisationRead:
    """Rename or (de)activate an organisation (system admins only)."""
    require_system_admin(caller, "change organisations")
    org = accounts.get_organisation(session, organisation_id)
    return OrganisationRead.model_validate(accounts.update_organisation(session, org, data))


@router.get("/users", response_model=Page[UserRead])
def list_users(caller: AdminCaller, session: DbSession, paging: Paging) -> Page[UserRead]:
    """List user accounts (an org admin sees their organisation's)."""
    limit = admin_org_limit(caller)
    stmt = select(User)
    if limit is not None:
        stmt = stmt.where(User.organisation_id == limit)
    rows, cursor = paginate(session, stmt, [User.created_at, User.id], paging)
    return Page(items=[UserRead.model_validate(r) for r in rows], next_cursor=cursor)


@router.post(
    "/users",
    response_model=UserRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Conflict, NotFound),
)
def create_user(caller: AdminCaller, session: DbSession, data: UserCreate) -> UserRead:
    """Create a user account (an org admin, in their own organisation)."""
    require_administers(caller, data.organisation_id)
    require_may_grant(caller, data.role)
    return UserRead.model_validate(accounts.create_user(session, data))


def _user(session: DbSession, caller: AdminCaller, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such record.")
    require_administers(caller, user.organisation_id)
    return user


@router.get("/users/{user_id}", response_model=UserRead, responses=error_responses(NotFound))
def read_user(caller: AdminCaller, session: DbSession, user_id: uuid.UUID) -> UserRead:
    """One user account."""
    return UserRead.model_validate(_user(session, caller, user_id))


@router.patch("/users/{user_id}", response_model=UserRead, responses=error_responses(NotFound))
def update_user(
    caller: AdminCaller, session: DbSession, user_id: uuid.UUID, data: UserUpdate
) -> UserRead:
    """Change a user's display name, password or active flag (not above your own role)."""
    user = _user(session, caller, user_id)
    require_outranks(caller, ROLE_RANK[user.role])
    return UserRead.model_validate(accounts.update_user(session, user, data))


@router.get("/clients", response_model=Page[ApiClientRead])
def list_clients(caller: AdminCaller, session: DbSession, paging: Paging) -> Page[ApiClientRead]:
    """List partner-system clients."""
    limit = admin_org_limit(caller)
    stmt = select(ApiClient)
    if limit is not None:
        stmt = stmt.where(ApiClient.organisation_id == limit)
    rows, cursor = paginate(session, stmt, [ApiClient.created_at, ApiClient.id], paging)
    return Page(items=[ApiClientRead.model_validate(r) for r in rows], next_cursor=cursor)


@router.post(
    "/clients",
    response_model=ApiClientCreated,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(NotFound),
)
def create_client(
    caller: AdminCaller, session: DbSession, data: ApiClientCreate
) -> ApiClientCreated:
    """Register a partner-system client; the secret is in this response only."""
    require_administers(caller, data.organisation_id)
    require_outranks(caller, CLIENT_RANK)
    client, secret = accounts.create_client(session, data)
    return ApiClientCreated(
        **ApiClientRead.model_validate(client).model_dump(), client_secret=secret
    )


def _client(session: DbSession, caller: AdminCaller, client_pk: uuid.UUID) -> ApiClient:
    client = session.get(ApiClient, client_pk)
    if client is None:
        raise NotFound("No such record.")
    require_administers(caller, client.organisation_id)
    return client


@router.get("/clients/{id}", response_model=ApiClientRead, responses=error_responses(NotFound))
def read_client(caller: AdminCaller, session: DbSession, id: uuid.UUID) -> ApiClientRead:
    """One partner-system client."""
    return ApiClientRead.model_validate(_client(session, caller, id))


@router.patch("/clients/{id}", response_model=ApiClientRead, responses=error_responses(NotFound))
def update_client(
    caller: AdminCaller, session: DbSession, id: uuid.UUID, data: ApiClientUpdate
) -> ApiClientRead:
    """Rename or (de)activate a partner-system client."""
    client = _client(session, caller, id)
    require_outranks(caller, CLIENT_RANK)
    return ApiClientRead.model_validate(accounts.update_client(session, client, data))
