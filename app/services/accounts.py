"""Organisations, users and API clients: creation and credential checks."""

import secrets
import uuid

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.auth.active import active_cache
from app.auth.passwords import hash_secret, new_client_secret, verify_secret
from app.core.errors import Conflict, NotFound, Unprocessable
from app.models.organisation import (
    ApiClient,
    ApiClientCreate,
    ApiClientUpdate,
    Organisation,
    OrganisationCreate,
    OrganisationUpdate,
    Role,
    User,
    UserCreate,
    UserUpdate,
)


def create_organisation(session: Session, data: OrganisationCreate) -> Organisation:
    """A new organisation; names are unique."""
    if session.exec(select(Organisation.id).where(Organisation.name == data.name)).first():
        raise Conflict("An organisation with this name exists.")
    org = Organisation.model_validate(data)
    session.add(org)
    session.flush()
    return org


def get_organisation(session: Session, org_id: uuid.UUID) -> Organisation:
    """The organisation, or 404."""
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("No such organisation.")
    return org


def update_organisation(
    session: Session, org: Organisation, data: OrganisationUpdate
) -> Organisation:
    """Rename or (de)activate an organisation; its tokens stop with it."""
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    for name, value in changes.items():
        setattr(org, name, value)
    session.add(org)
    session.flush()
    _forget_active_answers(changes)
    return org


def _forget_active_answers(changes: dict[str, object]) -> None:
    # Other instances notice within the active-check cache time; this one at once.
    if "active" in changes:
        active_cache.forget_all()


def create_user(session: Session, data: UserCreate) -> User:
    """A new user account with an argon2 password hash."""
    get_organisation(session, data.organisation_id)
    if (data.role == Role.participant) != (data.participant_id is not None):
        raise Unprocessable("A participant account, and only one, links to a participant record.")
    if data.participant_id is not None:
        _check_self_service_link(session, data.organisation_id, data.participant_id)
    if session.exec(select(User.id).where(User.username == data.username)).first():
        raise Conflict("This username is taken.")
    user = User(
        username=data.username,
        display_name=data.display_name,
        role=data.role,
        organisation_id=data.organisation_id,
        participant_id=data.participant_id,
        password_hash=hash_secret(data.password),
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("The user could not be created (a linked record is missing).") from None
    return user


def update_user(session: Session, user: User, data: UserUpdate) -> User:
    """Change a user's display name, password or active flag."""
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "password" in changes:
        user.password_hash = hash_secret(changes.pop("password"))
        # Every token issued under the old password stops working.
        user.credentials_version += 1
        active_cache.forget_all()  # this instance at once; others within the cache time
    for name, value in changes.items():
        setattr(user, name, value)
    session.add(user)
    session.flush()
    _forget_active_answers(changes)
    return user


def _check_self_service_link(
    session: Session, org_id: uuid.UUID, participant_id: uuid.UUID
) -> None:
    """A participant account gives its holder their whole self-service record, so only the
    organisation leading the person's care may open one, and only for that person."""
    from app.models.base import utcnow
    from app.sharing.visibility import is_current_lead

    if not is_current_lead(session, participant_id, org_id, utcnow()):
        # Same answer whether or not the participant exists elsewhere.
        raise Unprocessable(
            "A participant account is opened by the organisation leading that person's care."
        )


def create_client(session: Session, data: ApiClientCreate) -> tuple[ApiClient, str]:
    """A new API client and its secret (returned once, stored hashed)."""
    get_organisation(session, data.organisation_id)
    secret = new_client_secret()
    client = ApiClient(
        name=data.name,
        scopes=data.scopes,
        organisation_id=data.organisation_id,
        client_id="tc_" + secrets.token_hex(12),
        secret_hash=hash_secret(secret),
    )
    session.add(client)
    session.flush()
    return client, secret


def update_client(session: Session, client: ApiClient, data: ApiClientUpdate) -> ApiClient:
    """Rename or (de)activate a partner-system client."""
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    for name, value in changes.items():
        setattr(client, name, value)
    session.add(client)
    session.flush()
    _forget_active_answers(changes)
    return client


def authenticate_user(
    session: Session, username: str, password: str
) -> tuple[User, Organisation] | None:
    """The active user and their active organisation when the password matches."""
    # A value the database cannot compare (NUL) names nobody; still verify, for timing.
    user = (
        session.exec(select(User).where(User.username == username)).first()
        if "\x00" not in username
        else None
    )
    ok = verify_secret(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        return None
    org = session.get(Organisation, user.organisation_id)
    if org is None or not org.active:
        return None
    return user, org


def authenticate_client(
    session: Session, client_id: str, secret: str
) -> tuple[ApiClient, Organisation] | None:
    """The active client and its active organisation when the secret matches."""
    client = (
        session.exec(select(ApiClient).where(ApiClient.client_id == client_id)).first()
        if "\x00" not in client_id
        else None
    )
    ok = verify_secret(client.secret_hash if client else None, secret)
    if not ok or client is None or not client.active:
        return None
    org = session.get(Organisation, client.organisation_id)
    if org is None or not org.active:
        return None
    return client, org
