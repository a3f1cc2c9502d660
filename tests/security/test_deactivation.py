"""A deactivated user, client or organisation loses its tokens within seconds, on every
instance: the truth is in the database, each process caches it only briefly."""

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.auth.active import active_cache
from app.core.settings import get_settings
from app.models.organisation import ApiClient, Organisation, OrgKind, Role, User
from tests.fixtures import World

ME = "/api/v1/me"
ADMIN = "/api/v1/admin"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    active_cache.forget_all()
    yield
    active_cache.forget_all()


def _bearer(headers: dict[str, str]) -> dict[str, str]:
    return {"Authorization": headers["Authorization"]}


def _assert_revoked(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert response.json()["status"] == 401


def _user_headers(world: World, org: Organisation, role: Role = Role.practitioner) -> Any:
    from app.auth.issue import token_for_user

    user = world.user(org, role)
    return user, {"Authorization": f"Bearer {token_for_user(user, org).access_token}"}


def _elsewhere(db: Session, row: User | ApiClient | Organisation, **values: Any) -> None:
    """A change made by another instance: straight to the database, no local forgetting."""
    for name, value in values.items():
        setattr(row, name, value)
    db.add(row)
    db.commit()


def _later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    real = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real() + seconds)


class TestThroughTheAdminApi:
    """The instance that deactivates stops the token on the next request."""

    def test_deactivated_user_token_is_401_at_once(self, client: TestClient, world: World) -> None:
        org = world.org("CMHT", OrgKind.community_mental_health)
        user, headers = _user_headers(world, org)
        assert client.get(ME, headers=headers).status_code == 200
        admin = world.headers(org, Role.org_admin)
        off = client.patch(f"{ADMIN}/users/{user.id}", json={"active": False}, headers=admin)
        assert off.status_code == 200, off.text
        _assert_revoked(client.get(ME, headers=headers))
        _assert_revoked(client.get("/api/v1/participants", headers=headers))
        on = client.patch(f"{ADMIN}/users/{user.id}", json={"active": True}, headers=admin)
        assert on.status_code == 200
        assert client.get(ME, headers=headers).status_code == 200

    def test_deactivated_client_token_is_401_at_once(
        self, client: TestClient, world: World
    ) -> None:
        org = world.org("Probation", OrgKind.probation)
        headers = world.client_headers(org, ["referrals:read"])
        assert client.get(ME, headers=headers).status_code == 200
        admin = world.headers(org, Role.org_admin)
        client_id = client.get(ME, headers=headers).json()["subject"].removeprefix("client:")
        row = next(
            c
            for c in client.get(f"{ADMIN}/clients?limit=100", headers=admin).json()["items"]
            if c["client_id"] == client_id
        )
        off = client.patch(f"{ADMIN}/clients/{row['id']}", json={"active": False}, headers=admin)
        assert off.status_code == 200, off.text
        _assert_revoked(client.get(ME, headers=headers))
        _assert_revoked(client.get("/api/v1/referrals?box=inbox", headers=headers))

    def test_deactivated_organisation_stops_its_users_and_clients(
        self, client: TestClient, world: World
    ) -> None:
        org = world.org("Housing", OrgKind.housing)
        _, user_headers = _user_headers(world, org)
        client_headers = world.client_headers(org, ["referrals:read"])
        bystander = world.headers(world.org("Other", OrgKind.probation))
        for headers in (user_headers, client_headers, bystander):
            assert client.get(ME, headers=headers).status_code == 200
        platform = world.headers(
            world.org("Platform", OrgKind.care_coordination), Role.system_admin
        )
        off = client.patch(
            f"{ADMIN}/organisations/{org.id}", json={"active": False}, headers=platform
        )
        assert off.status_code == 200, off.text
        _assert_revoked(client.get(ME, headers=user_headers))
        _assert_revoked(client.get(ME, headers=client_headers))
        assert client.get(ME, headers=bystander).status_code == 200


class TestOnAnotherInstance:
    """A change written by another process is seen once the short cache entry expires."""

    def test_user_deactivated_elsewhere_is_401_within_the_cache_time(
        self, client: TestClient, world: World, db: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        ttl = get_settings().active_check_cache_seconds
        assert 0 < ttl <= 5
        org = world.org("CMHT", OrgKind.community_mental_health)
        user, headers = _user_headers(world, org)
        assert client.get(ME, headers=headers).status_code == 200
        _elsewhere(db, user, active=False)
        _later(monkeypatch, ttl + 0.01)
        _assert_revoked(client.get(ME, headers=headers))

    @pytest.mark.parametrize("what", ["client", "organisation"])
    def test_client_or_org_deactivated_elsewhere(
        self,
        client: TestClient,
        world: World,
        db: Session,
        monkeypatch: pytest.MonkeyPatch,
        what: str,
    ) -> None:
        org = world.org("Probation", OrgKind.probation)
        headers = world.client_headers(org, ["referrals:read"])
        assert client.get(ME, headers=headers).status_code == 200
        if what == "client":
            client_id = client.get(ME, headers=headers).json()["subject"].removeprefix("client:")
            row: ApiClient | Organisation = db.exec(
                select(ApiClient).where(ApiClient.client_id == client_id)
            ).one()
        else:
            row = org
        _elsewhere(db, row, active=False)
        _later(monkeypatch, get_settings().active_check_cache_seconds + 0.01)
        _assert_revoked(client.get(ME, headers=headers))

    def test_cache_time_zero_checks_every_request(
        self, client: TestClient, world: World, db: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(get_settings(), "active_check_cache_seconds", 0)
        org = world.org("CMHT", OrgKind.community_mental_health)
        user, headers = _user_headers(world, org)
        assert client.get(ME, headers=headers).status_code == 200
        _elsewhere(db, user, active=False)
        _assert_revoked(client.get(ME, headers=headers))


class TestTokenMustMatchTheAccount:
    """The token's claims are checked against the account as it is now."""

    def test_role_changed_since_issue_is_401(
        self, client: TestClient, world: World, db: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(get_settings(), "active_check_cache_seconds", 0)
        org = world.org("CMHT", OrgKind.community_mental_health)
        user, headers = _user_headers(world, org, Role.org_admin)
        assert client.get(f"{ADMIN}/users", headers=headers).status_code == 200
        _elsewhere(db, user, role=Role.practitioner)
        _assert_revoked(client.get(f"{ADMIN}/users", headers=headers))

    def test_deleted_user_is_401(
        self, client: TestClient, world: World, db: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(get_settings(), "active_check_cache_seconds", 0)
        org = world.org("CMHT", OrgKind.community_mental_health)
        user, headers = _user_headers(world, org)
        assert client.get(ME, headers=headers).status_code == 200
        db.delete(user)
        db.commit()
        _assert_revoked(client.get(ME, headers=headers))
