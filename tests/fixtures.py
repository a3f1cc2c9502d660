"""Fixtures: a rolled-back database session shared with the app, and a synthetic world."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.auth.issue import token_for_client, token_for_user
from app.core.db import committing, get_engine, get_session
from app.main import app
from app.models.organisation import ApiClient, Organisation, OrgKind, Role, User

# Cheap argon2 parameters for the many test accounts; the app verifies any parameters.
TEST_PASSWORD = "synthetic-test-password"
FAST_HASH = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(TEST_PASSWORD)


@contextmanager
def rolled_back_session() -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back afterwards, serving as
    the app's request session meanwhile."""
    connection = get_engine().connect()
    outer = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )

    def _test_session() -> Iterator[Session]:
        # The app's get_session with this session in place of a new one: what the test
        # set up counts as committed before the request, so a request that fails rolls
        # back its own work only (the outer transaction still undoes everything after
        # the test). The audit path (the gate's `auditing`) is the application's own.
        session.commit()
        with committing(session):
            yield session

    app.dependency_overrides[get_session] = _test_session
    try:
        yield session
    finally:
        app.dependency_overrides.pop(get_session, None)
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def db() -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test."""
    with rolled_back_session() as session:
        yield session


@pytest.fixture
def client(db: Session) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@dataclass
class World:
    """Builds synthetic organisations, users and clients, and mints real tokens."""

    session: Session
    orgs: dict[str, Organisation] = field(default_factory=dict)

    def org(self, name: str, kind: OrgKind | str) -> Organisation:
        org = Organisation(name=f"{name} {uuid.uuid4().hex[:6]}", kind=OrgKind(kind))
        self.session.add(org)
        self.session.commit()
        self.orgs[name] = org
        return org

    def user(
        self,
        org: Organisation,
        role: Role | str = Role.practitioner,
        participant_id: uuid.UUID | None = None,
        username: str | None = None,
    ) -> User:
        user = User(
            username=username or f"u{uuid.uuid4().hex[:10]}",
            role=Role(role),
            organisation_id=org.id,
            participant_id=participant_id,
            password_hash=FAST_HASH,
        )
        self.session.add(user)
        self.session.commit()
        return user

    def token(
        self,
        org: Organisation,
        role: Role | str = Role.practitioner,
        scope: str | None = None,
        participant_id: uuid.UUID | None = None,
    ) -> str:
        user = self.user(org, role, participant_id)
        return token_for_user(user, org, scope).access_token

    def headers(
        self,
        org: Organisation,
        role: Role | str = Role.practitioner,
        scope: str | None = None,
        participant_id: uuid.UUID | None = None,
        **extra: str,
    ) -> dict[str, str]:
        token = self.token(org, role, scope, participant_id)
        return {"Authorization": f"Bearer {token}", **extra}

    def client_headers(self, org: Organisation, scopes: list[str]) -> dict[str, str]:
        api_client = ApiClient(
            name="partner",
            scopes=scopes,
            organisation_id=org.id,
            client_id=f"tc_{uuid.uuid4().hex[:12]}",
            secret_hash=FAST_HASH,
        )
        self.session.add(api_client)
        self.session.commit()
        token = token_for_client(api_client, org).access_token
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(db: Session) -> World:
    return World(db)
