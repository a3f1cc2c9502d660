"""/api/v1/admin: organisations, users and partner-system clients."""

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.models.organisation import Organisation, OrgKind, Role
from tests.fixtures import TEST_PASSWORD, World

ADMIN = "/api/v1/admin"
PASSWORD = "synthetic-admin-made-pw-77"
ANY_ID = str(uuid.uuid4())


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def _user_body(org: Organisation, **extra: Any) -> dict[str, Any]:
    return {
        "organisation_id": str(org.id),
        "username": f"staff-{uuid.uuid4().hex[:8]}",
        "role": "practitioner",
        "password": PASSWORD,
        **extra,
    }


class TestAccess:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/organisations"),
            ("POST", "/organisations"),
            ("GET", f"/organisations/{ANY_ID}"),
            ("GET", "/users"),
            ("POST", "/users"),
            ("GET", f"/users/{ANY_ID}"),
            ("PATCH", f"/users/{ANY_ID}"),
            ("GET", "/clients"),
            ("POST", "/clients"),
            ("GET", f"/clients/{ANY_ID}"),
        ],
    )
    def test_anonymous_is_401(self, client: TestClient, method: str, path: str) -> None:
        response = client.request(method, ADMIN + path, json={})
        _problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")

    def test_practitioner_is_403(self, client: TestClient, world: World) -> None:
        headers = world.headers(world.org("CMHT", OrgKind.community_mental_health))
        for path in ("/organisations", "/users", "/clients"):
            _problem(client.get(ADMIN + path, headers=headers), 403)

    def test_org_admin_token_without_admin_scope_is_403(
        self, client: TestClient, world: World
    ) -> None:
        org = world.org("Housing", OrgKind.housing)
        headers = world.headers(org, Role.org_admin, scope="participants:read")
        _problem(client.get(f"{ADMIN}/users", headers=headers), 403)

    def test_partner_client_with_admin_scope_is_still_403(
        self, client: TestClient, world: World
    ) -> None:
        org = world.org("Probation", OrgKind.probation)
        headers = world.client_headers(org, ["admin"])
        _problem(client.get(f"{ADMIN}/users", headers=headers), 403)
        _problem(client.post(f"{ADMIN}/users", json=_user_body(org), headers=headers), 403)


class TestOrganisations:
    def test_system_admin_creates_and_reads(self, client: TestClient, world: World) -> None:
        headers = world.headers(world.org("Coord", OrgKind.care_coordination), Role.system_admin)
        name = f"Test Peer Service {uuid.uuid4().hex[:6]}"
        created = client.post(
            f"{ADMIN}/organisations", json={"name": name, "kind": "peer_support"}, headers=headers
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["name"] == name and body["kind"] == "peer_support" and body["active"]
        read = client.get(f"{ADMIN}/organisations/{body['id']}", headers=headers)
        assert read.json() == body
        duplicate = client.post(
            f"{ADMIN}/organisations", json={"name": name, "kind": "housing"}, headers=headers
        )
        _problem(duplicate, 409)

    def test_org_admin_cannot_create_and_sees_only_own(
        self, client: TestClient, world: World
    ) -> None:
        own = world.org("Own", OrgKind.housing)
        other = world.org("Other", OrgKind.probation)
        headers = world.headers(own, Role.org_admin)
        new_org = {"name": "Test New Org", "kind": "housing"}
        created = client.post(f"{ADMIN}/organisations", json=new_org, headers=headers)
        _problem(created, 403)
        listed = client.get(f"{ADMIN}/organisations", headers=headers).json()
        assert [o["id"] for o in listed["items"]] == [str(own.id)]
        _problem(client.get(f"{ADMIN}/organisations/{other.id}", headers=headers), 404)

    def test_unknown_fields_are_422(self, client: TestClient, world: World) -> None:
        headers = world.headers(world.org("Coord", OrgKind.care_coordination), Role.system_admin)
        response = client.post(
            f"{ADMIN}/organisations",
            json={"name": "Test Extra Org", "kind": "housing", "active": False, "id": ANY_ID},
            headers=headers,
        )
        errors = _problem(response, 422)["errors"]
        assert {e["loc"][-1] for e in errors} == {"active", "id"}


class TestUsers:
    def test_org_admin_creates_in_own_org(self, client: TestClient, world: World) -> None:
        own = world.org("Own", OrgKind.housing)
        headers = world.headers(own, Role.org_admin)
        body = _user_body(own)
        response = client.post(f"{ADMIN}/users", json=body, headers=headers)
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["username"] == body["username"]
        assert created["organisation_id"] == str(own.id)
        token = client.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": body["username"], "password": PASSWORD},
        )
        assert token.status_code == 200

    def test_org_admin_is_confined_to_own_org(self, client: TestClient, world: World) -> None:
        own = world.org("Own", OrgKind.housing)
        other = world.org("Other", OrgKind.probation)
        stranger = world.user(other)
        colleague = world.user(own)
        headers = world.headers(own, Role.org_admin)
        _problem(client.get(f"{ADMIN}/users/{stranger.id}", headers=headers), 404)
        off = {"active": False}
        patch = client.patch(f"{ADMIN}/users/{stranger.id}", json=off, headers=headers)
        _problem(patch, 404)
        created = client.post(f"{ADMIN}/users", json=_user_body(other), headers=headers)
        _problem(created, 404)
        listed = client.get(f"{ADMIN}/users?limit=100", headers=headers).json()["items"]
        assert str(colleague.id) in {u["id"] for u in listed}
        assert {u["organisation_id"] for u in listed} == {str(own.id)}

    def test_org_admin_cannot_create_system_admin(self, client: TestClient, world: World) -> None:
        own = world.org("Own", OrgKind.housing)
        headers = world.headers(own, Role.org_admin)
        body = _user_body(own, role="system_admin")
        _problem(client.post(f"{ADMIN}/users", json=body, headers=headers), 403)

    def test_system_admin_sees_any_user(self, client: TestClient, world: World) -> None:
        admin = world.headers(world.org("Coord", OrgKind.care_coordination), Role.system_admin)
        stranger = world.user(world.org("Other", OrgKind.probation))
        response = client.get(f"{ADMIN}/users/{stranger.id}", headers=admin)
        assert response.status_code == 200
        assert response.json()["username"] == stranger.username

    def test_password_never_appears(self, client: TestClient, world: World) -> None:
        own = world.org("Own", OrgKind.housing)
        headers = world.headers(own, Role.org_admin)
        created = client.post(f"{ADMIN}/users", json=_user_body(own), headers=headers)
        user_id = created.json()["id"]
        new_password = "synthetic-changed-pw-88"
        changed = client.patch(
            f"{ADMIN}/users/{user_id}", json={"password": new_password}, headers=headers
        )
        assert changed.status_code == 200
        responses = [
            created,
            changed,
            client.get(f"{ADMIN}/users/{user_id}", headers=headers),
            client.get(f"{ADMIN}/users", headers=headers),
        ]
        for response in responses:
            for secret in (PASSWORD, new_password, "password", "$argon2"):
                assert secret not in response.text

    def test_deactivated_user_cannot_get_a_token(self, client: TestClient, world: World) -> None:
        own = world.org("Own", OrgKind.housing)
        headers = world.headers(own, Role.org_admin)
        body = _user_body(own)
        user_id = client.post(f"{ADMIN}/users", json=body, headers=headers).json()["id"]
        patch = client.patch(f"{ADMIN}/users/{user_id}", json={"active": False}, headers=headers)
        assert patch.json()["active"] is False
        form = {"grant_type": "password", "username": body["username"], "password": PASSWORD}
        _problem(client.post("/api/v1/auth/token", data=form), 400)

    def test_a_password_change_ends_the_tokens_issued_before_it(
        self, client: TestClient, world: World
    ) -> None:
        own = world.org("Own", OrgKind.housing)
        headers = world.headers(own, Role.org_admin)
        body = _user_body(own)
        user_id = client.post(f"{ADMIN}/users", json=body, headers=headers).json()["id"]
        form = {"grant_type": "password", "username": body["username"], "password": PASSWORD}
        old = client.post("/api/v1/auth/token", data=form).json()["access_token"]
        me = {"Authorization": f"Bearer {old}"}
        assert client.get("/api/v1/organisations", headers=me).status_code == 200
        # A rename is not a credentials change: the token keeps working.
        client.patch(f"{ADMIN}/users/{user_id}", json={"display_name": "Renamed"}, headers=headers)
        assert client.get("/api/v1/organisations", headers=me).status_code == 200
        new_password = "synthetic-changed-pw-88"
        changed = client.patch(
            f"{ADMIN}/users/{user_id}", json={"password": new_password}, headers=headers
        )
        assert changed.status_code == 200
        _problem(client.get("/api/v1/organisations", headers=me), 401)
        _problem(client.post("/api/v1/auth/token", data=form), 400)  # old password
        fresh = client.post("/api/v1/auth/token", data={**form, "password": new_password})
        again = {"Authorization": f"Bearer {fresh.json()['access_token']}"}
        assert client.get("/api/v1/organisations", headers=again).status_code == 200
        # A second change ends that one too.
        client.patch(f"{ADMIN}/users/{user_id}", json={"password": PASSWORD}, headers=headers)
        _problem(client.get("/api/v1/organisations", headers=again), 401)

    @pytest.mark.parametrize(
        "extra",
        [{"password_hash": "x"}, {"active": False}, {"id": ANY_ID}, {"is_superuser": True}],
    )
    def test_unknown_fields_are_422(
        self, client: TestClient, world: World, extra: dict[str, Any]
    ) -> None:
        own = world.org("Own", OrgKind.housing)
        headers = world.headers(own, Role.org_admin)
        response = client.post(f"{ADMIN}/users", json=_user_body(own, **extra), headers=headers)
        _problem(response, 422)
        user = world.user(own)
        moved = client.patch(
            f"{ADMIN}/users/{user.id}", json={"organisation_id": ANY_ID}, headers=headers
        )
        _problem(moved, 422)


class TestClients:
    def test_secret_is_shown_once(self, client: TestClient, world: World) -> None:
        own = world.org("Own", OrgKind.prison_healthcare)
        headers = world.headers(own, Role.org_admin)
        response = client.post(
            f"{ADMIN}/clients",
            json={"organisation_id": str(own.id), "name": "Test EPR", "scopes": ["referrals:read"]},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        created = response.json()
        secret = created["client_secret"]
        assert len(secret) >= 32
        listed = client.get(f"{ADMIN}/clients", headers=headers)
        read = client.get(f"{ADMIN}/clients/{created['id']}", headers=headers)
        assert read.status_code == 200
        assert created["client_id"] in {c["client_id"] for c in listed.json()["items"]}
        for later in (listed, read):
            assert secret not in later.text
            assert "client_secret" not in later.text and "secret_hash" not in later.text
        token = client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": created["client_id"],
                "client_secret": secret,
            },
        )
        assert token.status_code == 200
        assert token.json()["scope"] == "referrals:read"

    def test_org_admin_cannot_touch_other_orgs_clients(
        self, client: TestClient, world: World
    ) -> None:
        own = world.org("Own", OrgKind.housing)
        other = world.org("Other", OrgKind.probation)
        system = world.headers(world.org("Coord", OrgKind.care_coordination), Role.system_admin)
        foreign = client.post(
            f"{ADMIN}/clients",
            json={"organisation_id": str(other.id), "name": "Test Other", "scopes": []},
            headers=system,
        ).json()
        headers = world.headers(own, Role.org_admin)
        _problem(client.get(f"{ADMIN}/clients/{foreign['id']}", headers=headers), 404)
        listed = client.get(f"{ADMIN}/clients", headers=headers).json()["items"]
        assert foreign["id"] not in {c["id"] for c in listed}
        body = {"organisation_id": str(other.id), "name": "Test Sneaky", "scopes": []}
        _problem(client.post(f"{ADMIN}/clients", json=body, headers=headers), 404)

    @pytest.mark.parametrize(
        "body",
        [
            {"name": "Test EPR", "scopes": [], "client_id": "tc_chosen"},
            {"name": "Test EPR", "scopes": [], "secret_hash": "x"},
            {"name": "Test EPR", "scopes": ["everything"]},
        ],
        ids=["client_id", "secret_hash", "unknown-scope"],
    )
    def test_bad_bodies_are_422(self, client: TestClient, world: World, body: dict) -> None:
        own = world.org("Own", OrgKind.housing)
        headers = world.headers(own, Role.org_admin)
        response = client.post(
            f"{ADMIN}/clients", json={"organisation_id": str(own.id), **body}, headers=headers
        )
        _problem(response, 422)


class TestParticipantAccounts:
    """A self-service account exposes the person's record to its holder: only the lead
    organisation may open one, and only for its own participant."""

    def test_only_the_lead_organisation_links_a_participant_account(
        self, client: TestClient, world: World
    ) -> None:
        lead = world.org("Lead", OrgKind.care_coordination)
        other = world.org("Other", OrgKind.housing)
        pid = client.post(
            "/api/v1/participants",
            json={"given_name": "Self", "family_name": "Service"},
            headers=world.headers(lead),
        ).json()["id"]
        body = {
            "username": "self.service",
            "role": "participant",
            "participant_id": pid,
            "password": "long-enough-password",
        }
        refused = client.post(
            "/api/v1/admin/users",
            headers=world.headers(other, Role.org_admin),
            json={**body, "organisation_id": str(other.id)},
        )
        assert refused.status_code == 422
        platform = world.org("Platform", OrgKind.care_coordination)
        by_sysadmin = client.post(
            "/api/v1/admin/users",
            headers=world.headers(platform, Role.system_admin),
            json={**body, "organisation_id": str(other.id)},
        )
        assert by_sysadmin.status_code == 422
        created = client.post(
            "/api/v1/admin/users",
            headers=world.headers(lead, Role.org_admin),
            json={**body, "organisation_id": str(lead.id)},
        )
        assert created.status_code == 201, created.text


class TestRoleRank:
    """Nobody administers an account above their own role (participant < practitioner <
    supervisor < org_admin < system_admin; a partner-system client ranks as org_admin)."""

    @pytest.mark.parametrize(
        "change",
        [{"password": "synthetic-takeover-pw-99"}, {"active": False}, {"display_name": "x"}],
        ids=["password", "deactivate", "rename"],
    )
    def test_org_admin_cannot_administer_a_system_admin_of_their_org(
        self, client: TestClient, world: World, change: dict[str, Any]
    ) -> None:
        org = world.org("Coord", OrgKind.care_coordination)
        sysadmin = world.user(org, Role.system_admin)
        headers = world.headers(org, Role.org_admin)
        _problem(client.patch(f"{ADMIN}/users/{sysadmin.id}", json=change, headers=headers), 403)
        # Nothing changed: the system admin still logs in with the old password.
        token = client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "password",
                "username": sysadmin.username,
                "password": TEST_PASSWORD,
            },
        )
        assert token.status_code == 200, token.text
        read = client.get(f"{ADMIN}/users/{sysadmin.id}", headers=headers).json()
        assert read["active"] is True and read["display_name"] == ""

    def test_org_admin_administers_peers_and_lower_roles(
        self, client: TestClient, world: World
    ) -> None:
        org = world.org("Housing", OrgKind.housing)
        headers = world.headers(org, Role.org_admin)
        for role in (Role.practitioner, Role.supervisor, Role.org_admin):
            target = world.user(org, role)
            response = client.patch(
                f"{ADMIN}/users/{target.id}", json={"active": False}, headers=headers
            )
            assert response.status_code == 200, response.text
            assert response.json()["active"] is False

    def test_system_admin_administers_another_system_admin(
        self, client: TestClient, world: World
    ) -> None:
        org = world.org("Platform", OrgKind.care_coordination)
        other = world.user(org, Role.system_admin)
        headers = world.headers(org, Role.system_admin)
        response = client.patch(
            f"{ADMIN}/users/{other.id}", json={"active": False}, headers=headers
        )
        assert response.status_code == 200, response.text

    @pytest.mark.parametrize(
        ("granter", "role", "status"),
        [
            (Role.org_admin, "system_admin", 403),
            (Role.org_admin, "org_admin", 201),
            (Role.org_admin, "supervisor", 201),
            (Role.system_admin, "system_admin", 201),
        ],
    )
    def test_creation_grants_at_most_the_granters_role(
        self, client: TestClient, world: World, granter: Role, role: str, status: int
    ) -> None:
        org = world.org("Own", OrgKind.housing)
        body = _user_body(org, role=role)
        response = client.post(f"{ADMIN}/users", json=body, headers=world.headers(org, granter))
        assert response.status_code == status, response.text
        listed = client.get(
            f"{ADMIN}/users?limit=100", headers=world.headers(org, Role.system_admin)
        ).json()["items"]
        assert (body["username"] in {u["username"] for u in listed}) is (status == 201)

    def test_org_admin_administers_own_clients(self, client: TestClient, world: World) -> None:
        org = world.org("Probation", OrgKind.probation)
        headers = world.headers(org, Role.org_admin)
        created = client.post(
            f"{ADMIN}/clients",
            json={"organisation_id": str(org.id), "name": "Test EPR", "scopes": []},
            headers=headers,
        ).json()
        off = client.patch(
            f"{ADMIN}/clients/{created['id']}", json={"active": False}, headers=headers
        )
        assert off.status_code == 200 and off.json()["active"] is False
