"""POST /api/v1/auth/token: both grants, scope narrowing, failures, lockout, inactive accounts."""

import base64
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.auth.scopes import ROLE_SCOPES
from app.core.settings import get_settings
from app.models.organisation import (
    ApiClient,
    ApiClientCreate,
    Organisation,
    OrganisationCreate,
    OrgKind,
    Role,
    User,
    UserCreate,
)
from app.services import accounts

TOKEN_URL = "/api/v1/auth/token"
PASSWORD = "synthetic-password-0001"


def _org(db: Session) -> Organisation:
    data = OrganisationCreate(name=f"Test CMHT {uuid.uuid4().hex[:8]}", kind=OrgKind.probation)
    return accounts.create_organisation(db, data)


def _user(db: Session, role: Role = Role.practitioner) -> User:
    org = _org(db)
    data = UserCreate(
        organisation_id=org.id,
        username=f"worker-{uuid.uuid4().hex[:8]}",
        role=role,
        password=PASSWORD,
    )
    return accounts.create_user(db, data)


def _client(db: Session, scopes: list[str]) -> tuple[ApiClient, str]:
    org = _org(db)
    data = ApiClientCreate(organisation_id=org.id, name="Partner EPR", scopes=scopes)
    return accounts.create_client(db, data)


def _assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert "access_token" not in body
    return body


def _me(client: TestClient, token: str) -> Any:
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def test_client_credentials_in_form_fields(client: TestClient, db: Session) -> None:
    api_client, secret = _client(db, ["participants:read", "referrals:write"])
    response = client.post(
        TOKEN_URL,
        data={
            "grant_type": "client_credentials",
            "client_id": api_client.client_id,
            "client_secret": secret,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == get_settings().token_lifetime_seconds
    assert body["scope"] == "participants:read referrals:write"
    me = _me(client, body["access_token"])
    assert me.status_code == 200
    assert me.json()["subject"] == f"client:{api_client.client_id}"
    assert me.json()["role"] == "partner_system"
    assert me.json()["organisation_id"] == str(api_client.organisation_id)


def test_client_credentials_with_http_basic(client: TestClient, db: Session) -> None:
    api_client, secret = _client(db, ["referrals:read"])
    basic = base64.b64encode(f"{api_client.client_id}:{secret}".encode()).decode()
    response = client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "referrals:read"
    assert _me(client, response.json()["access_token"]).status_code == 200


def test_password_grant_issues_a_working_user_token(client: TestClient, db: Session) -> None:
    user = _user(db, Role.supervisor)
    response = client.post(
        TOKEN_URL, data={"grant_type": "password", "username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "bearer"
    assert set(body["scope"].split()) == ROLE_SCOPES[Role.supervisor]
    me = _me(client, body["access_token"]).json()
    assert me["subject"] == f"user:{user.id}"
    assert me["role"] == "supervisor"
    assert set(me["scopes"]) == ROLE_SCOPES[Role.supervisor]


def test_requested_scope_subset_is_granted(client: TestClient, db: Session) -> None:
    user = _user(db)
    response = client.post(
        TOKEN_URL,
        data={
            "grant_type": "password",
            "username": user.username,
            "password": PASSWORD,
            "scope": "participants:read plans:read",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "participants:read plans:read"
    me = _me(client, response.json()["access_token"]).json()
    assert me["scopes"] == ["participants:read", "plans:read"]


@pytest.mark.parametrize("grant", ["password", "client_credentials"])
def test_excess_scope_is_400(client: TestClient, db: Session, grant: str) -> None:
    if grant == "password":
        user = _user(db)
        form = {"username": user.username, "password": PASSWORD}
    else:
        api_client, secret = _client(db, ["participants:read"])
        form = {"client_id": api_client.client_id, "client_secret": secret}
    response = client.post(
        TOKEN_URL, data={"grant_type": grant, "scope": "participants:read admin", **form}
    )
    body = _assert_problem(response, 400)
    assert body["error"] == "invalid_scope"


def test_wrong_client_secret_is_401(client: TestClient, db: Session) -> None:
    api_client, _ = _client(db, ["participants:read"])
    response = client.post(
        TOKEN_URL,
        data={
            "grant_type": "client_credentials",
            "client_id": api_client.client_id,
            "client_secret": "not-the-secret",
        },
    )
    assert _assert_problem(response, 401)["error"] == "invalid_client"


def test_wrong_password_and_unknown_user_look_the_same(client: TestClient, db: Session) -> None:
    user = _user(db)
    wrong = client.post(
        TOKEN_URL,
        data={"grant_type": "password", "username": user.username, "password": "wrong-password"},
    )
    unknown = client.post(
        TOKEN_URL,
        data={"grant_type": "password", "username": "nobody-here", "password": PASSWORD},
    )
    for response in (wrong, unknown):
        assert _assert_problem(response, 400)["error"] == "invalid_grant"
    assert wrong.json()["detail"] == unknown.json()["detail"]


def test_missing_credentials_and_unknown_grant(client: TestClient) -> None:
    _assert_problem(client.post(TOKEN_URL, data={"grant_type": "client_credentials"}), 401)
    _assert_problem(client.post(TOKEN_URL, data={"grant_type": "password"}), 400)
    _assert_problem(client.post(TOKEN_URL, data={"grant_type": "implicit"}), 422)


def test_user_lockout_after_repeated_failures(client: TestClient, db: Session) -> None:
    user = _user(db)
    other = _user(db)
    limit = get_settings().login_max_failures
    assert limit == 5
    bad = {"grant_type": "password", "username": user.username, "password": "wrong-password"}
    for _ in range(limit):
        _assert_problem(client.post(TOKEN_URL, data=bad), 400)
    locked = client.post(TOKEN_URL, data={**bad, "password": PASSWORD})
    _assert_problem(locked, 429)
    assert 0 < int(locked.headers["Retry-After"]) <= get_settings().login_lockout_seconds
    # The username is compared case-insensitively, so changing case does not reset it.
    upper = client.post(TOKEN_URL, data={**bad, "username": user.username.upper()})
    _assert_problem(upper, 429)
    # Another account is not affected.
    ok = client.post(
        TOKEN_URL, data={"grant_type": "password", "username": other.username, "password": PASSWORD}
    )
    assert ok.status_code == 200


def test_client_lockout_after_repeated_failures(client: TestClient, db: Session) -> None:
    api_client, secret = _client(db, ["participants:read"])
    form = {"grant_type": "client_credentials", "client_id": api_client.client_id}
    for _ in range(get_settings().login_max_failures):
        _assert_problem(client.post(TOKEN_URL, data={**form, "client_secret": "wrong"}), 401)
    locked = client.post(TOKEN_URL, data={**form, "client_secret": secret})
    _assert_problem(locked, 429)
    assert int(locked.headers["Retry-After"]) > 0


def test_success_resets_the_failure_count(client: TestClient, db: Session) -> None:
    user = _user(db)
    bad = {"grant_type": "password", "username": user.username, "password": "wrong-password"}
    good = {**bad, "password": PASSWORD}
    for _ in range(get_settings().login_max_failures - 1):
        _assert_problem(client.post(TOKEN_URL, data=bad), 400)
    assert client.post(TOKEN_URL, data=good).status_code == 200
    for _ in range(get_settings().login_max_failures - 1):
        _assert_problem(client.post(TOKEN_URL, data=bad), 400)
    assert client.post(TOKEN_URL, data=good).status_code == 200


def test_inactive_user_is_rejected(client: TestClient, db: Session) -> None:
    user = _user(db)
    user.active = False
    db.add(user)
    db.flush()
    response = client.post(
        TOKEN_URL, data={"grant_type": "password", "username": user.username, "password": PASSWORD}
    )
    _assert_problem(response, 400)


def test_inactive_client_is_rejected(client: TestClient, db: Session) -> None:
    api_client, secret = _client(db, ["participants:read"])
    api_client.active = False
    db.add(api_client)
    db.flush()
    response = client.post(
        TOKEN_URL,
        data={
            "grant_type": "client_credentials",
            "client_id": api_client.client_id,
            "client_secret": secret,
        },
    )
    _assert_problem(response, 401)


def test_user_of_inactive_organisation_is_rejected(client: TestClient, db: Session) -> None:
    user = _user(db)
    org = db.get(Organisation, user.organisation_id)
    assert org is not None
    org.active = False
    db.add(org)
    db.flush()
    response = client.post(
        TOKEN_URL, data={"grant_type": "password", "username": user.username, "password": PASSWORD}
    )
    _assert_problem(response, 400)


def test_token_endpoint_takes_form_not_json(client: TestClient, db: Session) -> None:
    user = _user(db)
    response = client.post(
        TOKEN_URL, json={"grant_type": "password", "username": user.username, "password": PASSWORD}
    )
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith("application/problem+json")


NUL = "probe\x00value"


def _basic(client_id: str, secret: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


class TestUnstorableCredentials:
    """A NUL (or other control character) in an identifier is a malformed request, not a
    database error: PostgreSQL text cannot hold NUL, and the driver's error quoted it."""

    @pytest.mark.parametrize("username", [NUL, "\x00", "tab\tname", "line\nname"])
    def test_password_grant_username(
        self, client: TestClient, db: Session, caplog: pytest.LogCaptureFixture, username: str
    ) -> None:
        form = {"grant_type": "password", "username": username, "password": PASSWORD}
        response = client.post(TOKEN_URL, data=form)
        assert _assert_problem(response, 400)["error"] == "invalid_request"
        assert not [r for r in caplog.records if r.levelname in {"ERROR", "CRITICAL"}]
        # Nothing was locked out or changed: a real account still logs in.
        user = _user(db)
        good = {"grant_type": "password", "username": user.username, "password": PASSWORD}
        assert client.post(TOKEN_URL, data=good).status_code == 200

    @pytest.mark.parametrize("how", ["form", "basic"])
    def test_client_credentials_client_id(
        self, client: TestClient, db: Session, caplog: pytest.LogCaptureFixture, how: str
    ) -> None:
        form = {"grant_type": "client_credentials"}
        if how == "form":
            response = client.post(
                TOKEN_URL, data={**form, "client_id": NUL, "client_secret": "some-secret"}
            )
        else:
            response = client.post(TOKEN_URL, data=form, headers=_basic(NUL, "some-secret"))
        body = _assert_problem(response, 401)
        assert body["error"] == "invalid_client"
        assert not [r for r in caplog.records if r.levelname in {"ERROR", "CRITICAL"}]
        if how == "basic":
            # RFC 6749 §5.2: a client that authenticated with Basic is told the scheme.
            assert response.headers["www-authenticate"].startswith("Basic")

    def test_nul_in_the_secret_or_password_is_just_a_wrong_credential(
        self, client: TestClient, db: Session
    ) -> None:
        api_client, _ = _client(db, ["participants:read"])
        response = client.post(
            TOKEN_URL,
            data={
                "grant_type": "client_credentials",
                "client_id": api_client.client_id,
                "client_secret": NUL,
            },
        )
        assert _assert_problem(response, 401)["error"] == "invalid_client"
        user = _user(db)
        form = {"grant_type": "password", "username": user.username, "password": NUL}
        assert _assert_problem(client.post(TOKEN_URL, data=form), 400)["error"] == "invalid_grant"
