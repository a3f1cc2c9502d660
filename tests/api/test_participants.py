"""Participant registration and updates: validation, identifiers, If-Match, phases, retries."""

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from app.models.organisation import OrgKind
from app.models.participant import Participant
from tests.api.helpers import member
from tests.fixtures import World


@pytest.fixture
def coord(world: World):  # type: ignore[no-untyped-def]
    return world.org("Coordination", OrgKind.care_coordination)


def _create(client: TestClient, world: World, org, **body):  # type: ignore[no-untyped-def]
    payload = {"given_name": "Jo", "family_name": "Sample", **body}
    return client.post("/api/v1/participants", json=payload, headers=world.headers(org))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("nhs_number", "9434765918"),
        ("nhs_number", "12345"),
        ("prison_number", "1234ABC"),
        ("probation_crn", "Y12345"),
        ("date_of_birth", "2999-01-01"),
    ],
)
def test_malformed_identifiers_are_422_naming_the_field(client, world, coord, field, value):
    response = _create(client, world, coord, **{field: value})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any(field in e["loc"] for e in response.json()["errors"])
    assert value not in response.text  # the submitted value is never echoed


def test_valid_identifiers_are_normalised(client, world, coord):
    body = _create(
        client,
        world,
        coord,
        nhs_number="943 476 5919",
        prison_number="a1234bc",
        probation_crn="x123456",
    ).json()
    assert (body["nhs_number"], body["prison_number"], body["probation_crn"]) == (
        "9434765919",
        "A1234BC",
        "X123456",
    )


def test_duplicate_identifier_is_409_revealing_nothing(client, world, coord):
    other = world.org("Elsewhere", OrgKind.probation)
    assert (
        _create(client, world, other, nhs_number="9434765919", given_name="Hidden").status_code
        == 201
    )
    response = _create(client, world, coord, nhs_number="9434765919")
    assert response.status_code == 409
    assert "Hidden" not in response.text and "Sample" not in response.text


def test_unknown_and_server_owned_fields_are_rejected(client, world, coord):
    for extra in ({"source_org_id": str(uuid.uuid4())}, {"version": 7}, {"favourite": "x"}):
        assert _create(client, world, coord, **extra).status_code == 422


def test_creator_becomes_lead(client, world, coord):
    pid = _create(client, world, coord).json()["id"]
    team = client.get(f"/api/v1/participants/{pid}/care-team", headers=world.headers(coord)).json()
    assert [(m["organisation_id"], m["role"]) for m in team] == [(str(coord.id), "lead")]


class TestPatch:
    def test_requires_if_match(self, client, world, coord):
        pid = _create(client, world, coord).json()["id"]
        response = client.patch(
            f"/api/v1/participants/{pid}",
            json={"phone": "07700 900001"},
            headers=world.headers(coord),
        )
        assert response.status_code == 428

    def test_stale_if_match_is_412_and_changes_nothing(self, client, world, coord):
        created = _create(client, world, coord)
        pid, etag = created.json()["id"], created.headers["etag"]
        headers = world.headers(coord, **{"If-Match": etag})
        first = client.patch(f"/api/v1/participants/{pid}", json={"phone": "1"}, headers=headers)
        assert first.status_code == 200 and first.headers["etag"] != etag
        second = client.patch(f"/api/v1/participants/{pid}", json={"phone": "2"}, headers=headers)
        assert second.status_code == 412
        assert (
            client.get(f"/api/v1/participants/{pid}", headers=world.headers(coord)).json()["phone"]
            == "1"
        )

    @pytest.mark.parametrize(
        ("path", "ok"),
        [
            (["pre_release", "community", "ended"], True),
            (["community", "in_prison"], True),
            (["ended", "community"], False),
        ],
    )
    def test_phase_transitions(self, client, world, coord, path, ok):
        created = _create(client, world, coord)
        pid, etag = created.json()["id"], created.headers["etag"]
        statuses = []
        for phase in path:
            response = client.patch(
                f"/api/v1/participants/{pid}",
                json={"phase": phase},
                headers=world.headers(coord, **{"If-Match": etag}),
            )
            statuses.append(response.status_code)
            etag = response.headers.get("etag", etag)
        assert all(s == 200 for s in statuses) if ok else statuses[-1] == 409

    def test_cannot_change_a_category_it_cannot_see(self, client, world, coord):
        created = _create(client, world, coord)
        pid = created.json()["id"]
        housing = world.org("Housing", OrgKind.housing)
        member(world.session, uuid.UUID(pid), housing)
        read = client.get(f"/api/v1/participants/{pid}", headers=world.headers(housing))
        response = client.patch(
            f"/api/v1/participants/{pid}",
            json={"phone": "999"},
            headers=world.headers(housing, **{"If-Match": read.headers["etag"]}),
        )
        assert response.status_code == 403

    def test_unrelated_org_gets_404(self, client, world, coord):
        pid = _create(client, world, coord).json()["id"]
        stranger = world.org("Stranger", OrgKind.probation)
        response = client.patch(
            f"/api/v1/participants/{pid}",
            json={"phone": "1"},
            headers=world.headers(stranger, **{"If-Match": '"p-1"'}),
        )
        assert response.status_code == 404


class TestIdempotency:
    def test_retry_replays_and_creates_once(self, client, world, coord):
        headers = world.client_headers(coord, ["participants:write", "participants:read"])
        headers["Idempotency-Key"] = "retry-1"
        body = {"given_name": "Idem", "family_name": "Potent"}
        first = client.post("/api/v1/participants", json=body, headers=headers)
        second = client.post("/api/v1/participants", json=body, headers=headers)
        assert first.status_code == second.status_code == 201
        assert first.json()["id"] == second.json()["id"]
        assert second.headers["idempotent-replayed"] == "true"
        count = world.session.exec(
            select(func.count()).select_from(Participant).where(Participant.given_name == "Idem")
        ).one()
        assert count == 1

    def test_same_key_different_body_is_422(self, client, world, coord):
        headers = world.client_headers(coord, ["participants:write"])
        headers["Idempotency-Key"] = "retry-2"
        client.post(
            "/api/v1/participants", json={"given_name": "A", "family_name": "B"}, headers=headers
        )
        again = client.post(
            "/api/v1/participants", json={"given_name": "C", "family_name": "B"}, headers=headers
        )
        assert again.status_code == 422

    def test_keys_are_scoped_per_client(self, client, world, coord):
        body = {"given_name": "Scoped", "family_name": "Key"}
        ids = set()
        for _ in range(2):
            headers = world.client_headers(coord, ["participants:write"])
            headers["Idempotency-Key"] = "shared-key"
            ids.add(client.post("/api/v1/participants", json=body, headers=headers).json()["id"])
        assert len(ids) == 2
