"""Hostile input: every case is a clear 4xx problem+json that changes nothing and echoes nothing.

Found by hand and by tests/test_schemathesis.py; each test names the request that used to
misbehave (a 500, or an answer the OpenAPI document did not declare).
"""

import base64
import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.core.settings import get_settings
from app.main import app
from app.models.organisation import Role
from app.models.risk import RiskAlert
from app.models.sharing import Consent
from tests.api.care_world import Care, build_care
from tests.fixtures import World

SENTINEL = "SYNTHETIC-SENSITIVE-4711"
OPENAPI = app.openapi()


@pytest.fixture
def care(world: World, db: Session) -> Care:
    return build_care(world, db)


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert SENTINEL not in response.text
    return body


def documented(method: str, path: str, status: int) -> bool:
    """Whether the committed OpenAPI document declares `status` for the operation."""
    return str(status) in OPENAPI["paths"][path][method.lower()]["responses"]


def count(db: Session, model: Any) -> int:
    return int(db.exec(select(func.count()).select_from(model)).one())


def cursor(values: list[Any]) -> str:
    raw = json.dumps(values).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class TestLongStrings:
    def test_text_beyond_max_length_is_422_and_stores_nothing(
        self, client: TestClient, care: Care, db: Session
    ) -> None:
        before = count(db, RiskAlert)
        body = {"kind": "self_harm", "level": "low", "notes": SENTINEL * 1000}
        response = client.post(care.url("/alerts"), json=body, headers=care.headers(care.coord))
        errors = problem(response, 422)["errors"]
        assert [e["loc"] for e in errors] == [["body", "notes"]]
        assert count(db, RiskAlert) == before

    def test_long_query_text_is_422(self, client: TestClient, care: Care) -> None:
        response = client.get(
            "/api/v1/services", params={"q": SENTINEL * 20}, headers=care.headers(care.coord)
        )
        problem(response, 422)


class TestHugeLists:
    """A list of 10,000 items is refused by validation (not stored, not looped over)."""

    FLOOD = ["plan"] * 10_000

    def test_consent_categories(self, client: TestClient, care: Care, db: Session) -> None:
        before = count(db, Consent)
        body = {
            "categories": self.FLOOD,
            "purposes": ["direct_care"],
            "method": "verbal",
            "recipient_org_kinds": ["community_mental_health"],
        }
        response = client.post(care.url("/consents"), json=body, headers=care.headers(care.coord))
        errors = problem(response, 422)["errors"]
        assert ["body", "categories"] in [e["loc"] for e in errors]
        assert count(db, Consent) == before

    def test_consent_recipients(self, client: TestClient, care: Care) -> None:
        body = {
            "categories": ["plan"],
            "purposes": ["direct_care"],
            "method": "verbal",
            "recipient_org_ids": [str(uuid.uuid4()) for _ in range(10_000)],
        }
        response = client.post(care.url("/consents"), json=body, headers=care.headers(care.coord))
        # 10,000 UUIDs are ~400 kB: under the body limit, so validation answers.
        problem(response, 422)

    @pytest.mark.parametrize(
        ("path", "role", "body"),
        [
            ("/api/v1/referrals", Role.practitioner, {"reason": "Synthetic", "categories": FLOOD}),
            (
                "/api/v1/sharing/protocols",
                Role.org_admin,
                {
                    "name": "Flood",
                    "source_org_kind": "care_coordination",
                    "recipient_org_kind": "housing",
                    "lawful_basis": "public_task",
                    "effective_from": "2024-01-01",
                    "approved_by": "Synthetic IG lead",
                    "categories": FLOOD,
                    "purposes": ["direct_care"],
                },
            ),
            (
                "/api/v1/services",
                Role.org_admin,
                {"name": "Flood", "setting": "community", "categories": ["housing"] * 10_000},
            ),
            (
                "/api/v1/admin/clients",
                Role.org_admin,
                {"name": "Flood", "scopes": ["participants:read"] * 10_000},
            ),
        ],
    )
    def test_other_list_fields(
        self, client: TestClient, care: Care, path: str, role: Role, body: dict[str, Any]
    ) -> None:
        body = {**body}
        if path == "/api/v1/referrals":
            body.update(participant_id=str(care.pid), to_org_id=str(care.cmht.id))
        if path == "/api/v1/admin/clients":
            body["organisation_id"] = str(care.coord.id)
        headers = care.world.headers(care.coord, role, **{"Idempotency-Key": uuid.uuid4().hex})
        care.db.commit()
        problem(client.post(path, json=body, headers=headers), 422)

    def test_break_glass_categories(self, client: TestClient, care: Care) -> None:
        body = {
            "reason_code": "risk_to_life",
            "justification": "Synthetic emergency: risk to life and no way to ask for consent.",
            "categories": self.FLOOD,
        }
        response = client.post(care.url("/break-glass"), json=body, headers=care.headers(care.cmht))
        problem(response, 422)

    def test_request_lists_in_the_document_are_bounded(self) -> None:
        """Every array in a request body declares maxItems (checked on the whole document)."""
        schemas = OPENAPI["components"]["schemas"]
        unbounded: list[str] = []

        def walk(node: Any, where: str) -> None:
            if isinstance(node, dict):
                if node.get("type") == "array" and "maxItems" not in node:
                    unbounded.append(where)
                for key, value in node.items():
                    walk(value, f"{where}.{key}")
            elif isinstance(node, list):
                for value in node:
                    walk(value, where)

        for ops in OPENAPI["paths"].values():
            for op in ops.values():
                for media in op.get("requestBody", {}).get("content", {}).values():
                    ref = media["schema"].get("$ref", "")
                    if ref:
                        name = ref.rsplit("/", 1)[-1]
                        walk(schemas[name], name)
        assert unbounded == []


class TestContentTypes:
    def test_form_instead_of_json_is_422_problem(
        self, client: TestClient, care: Care, db: Session
    ) -> None:
        before = count(db, RiskAlert)
        response = client.post(
            care.url("/alerts"),
            data={"kind": "self_harm", "level": "low", "notes": SENTINEL},
            headers=care.headers(care.coord),
        )
        problem(response, 422)
        assert count(db, RiskAlert) == before

    def test_text_plain_json_is_refused(self, client: TestClient, care: Care) -> None:
        response = client.post(
            care.url("/alerts"),
            content=json.dumps({"kind": "self_harm", "level": "low", "notes": SENTINEL}),
            headers={**care.headers(care.coord), "Content-Type": "text/plain"},
        )
        assert 400 <= response.status_code < 500
        problem(response, response.status_code)

    def test_malformed_json_is_a_documented_400(self, client: TestClient, care: Care) -> None:
        response = client.post(
            care.url("/alerts"),
            content=b'{"notes": "' + SENTINEL.encode(),
            headers={**care.headers(care.coord), "Content-Type": "application/json"},
        )
        problem(response, 400)
        assert documented("POST", "/api/v1/participants/{participant_id}/alerts", 400)
        assert documented("POST", "/api/v1/participants/{participant_id}/alerts", 413)


class TestPaging:
    PATH = "/api/v1/participants/{participant_id}/alerts"

    @pytest.mark.parametrize("limit", ["0", "-1", "-99999999999999999999", "ten", "1.5"])
    def test_bad_limit_is_422(self, client: TestClient, care: Care, limit: str) -> None:
        response = client.get(
            care.url("/alerts"), params={"limit": limit}, headers=care.headers(care.coord)
        )
        problem(response, 422)

    def test_huge_limit_is_capped(self, client: TestClient, care: Care) -> None:
        response = client.get(
            care.url("/alerts"), params={"limit": "9" * 40}, headers=care.headers(care.coord)
        )
        assert response.status_code == 200, response.text

    @pytest.mark.parametrize(
        "value",
        [
            "garbage!",
            SENTINEL,
            "%%%",
            cursor([]),
            cursor({"a": 1}),  # type: ignore[arg-type]
            cursor(["not-a-date", "not-a-uuid"]),
            cursor([{"a": 1}, [1]]),
            cursor(["2024-01-01T00:00:00", str(uuid.uuid4())]),  # no zone
            cursor(["9999-12-31T23:59:59-05:00", str(uuid.uuid4())]),  # beyond year 9999 in UTC
            cursor(["0001-01-01T00:00:00+05:00", str(uuid.uuid4())]),  # before year 1 in UTC
            cursor(["2024-01-01T00:00:00+00:00", str(uuid.uuid4()), "extra"]),
        ],
    )
    def test_garbage_cursor_is_a_documented_400(
        self, client: TestClient, care: Care, value: str
    ) -> None:
        response = client.get(
            care.url("/alerts"), params={"cursor": value}, headers=care.headers(care.coord)
        )
        assert problem(response, 400)["title"] == "Invalid cursor"
        assert documented("GET", self.PATH, 400)

    @pytest.mark.parametrize("value", [10**30, -(10**30), 2**63, -(2**63) - 1, "1\x00", True])
    def test_out_of_range_integer_cursor_is_400(
        self, client: TestClient, care: Care, value: Any
    ) -> None:
        """`disclosures` pages by an integer sequence: PostgreSQL overflowed on huge ones."""
        headers = care.world.headers(care.coord, Role.org_admin)
        care.db.commit()
        response = client.get(
            care.url("/disclosures"), params={"cursor": cursor([value])}, headers=headers
        )
        problem(response, 400)

    def test_cursor_text_with_nul_is_400(self, client: TestClient, care: Care) -> None:
        response = client.get(
            care.url("/alerts"),
            params={"cursor": cursor(["2024-01-01T00:00:00+00:00", "\x00"])},
            headers=care.headers(care.coord),
        )
        problem(response, 400)


class TestPathIds:
    @pytest.mark.parametrize(
        "path",
        [
            "/api/v1/participants/{bad}",
            "/api/v1/participants/{bad}/alerts",
            "/api/v1/referrals/{bad}",
            "/api/v1/services/{bad}",
            "/api/v1/sharing/protocols/{bad}",
            "/api/v1/admin/users/{bad}",
        ],
    )
    def test_non_uuid_id_is_422_without_echo(
        self, client: TestClient, care: Care, path: str
    ) -> None:
        headers = care.world.headers(care.coord, Role.org_admin)
        care.db.commit()
        response = client.get(path.format(bad=SENTINEL), headers=headers)
        body = problem(response, 422)
        assert body["errors"][0]["loc"][0] == "path"
        assert body["instance"] == "/api/v1" + path.removeprefix("/api/v1").replace(
            "{bad}", "{" + body["errors"][0]["loc"][1] + "}"
        )

    def test_huge_plan_version_is_422(self, client: TestClient, care: Care) -> None:
        response = client.get(
            care.url("/plan/versions/99999999999999999999"), headers=care.headers(care.coord)
        )
        problem(response, 422)

    def test_huge_protocol_version_is_422(self, client: TestClient, care: Care) -> None:
        """GET …/protocols/{id}?version=2147483648 was a 500 on PostgreSQL (integer overflow)."""
        response = client.get(
            f"/api/v1/sharing/protocols/{uuid.uuid4()}",
            params={"version": 2**31},
            headers=care.headers(care.coord),
        )
        problem(response, 422)


class TestNul:
    """PostgreSQL cannot store NUL in text: refused at validation on every backend."""

    def test_nul_in_body_text_is_422(self, client: TestClient, care: Care, db: Session) -> None:
        before = count(db, RiskAlert)
        body = {"kind": "self_harm", "level": "low", "notes": f"{SENTINEL}\x00"}
        response = client.post(care.url("/alerts"), json=body, headers=care.headers(care.coord))
        errors = problem(response, 422)["errors"]
        assert [e["loc"] for e in errors] == [["body", "notes"]]
        assert count(db, RiskAlert) == before

    def test_nul_in_a_list_item_is_422(self, client: TestClient, care: Care) -> None:
        headers = care.world.headers(care.coord, Role.org_admin)
        care.db.commit()
        body = {"name": "Drop-in", "setting": "community", "exclusions": ["arson\x00"]}
        response = client.post("/api/v1/services", json=body, headers=headers)
        errors = problem(response, 422)["errors"]
        assert [e["loc"] for e in errors] == [["body", "exclusions"]]

    def test_nul_in_query_text_is_422(self, client: TestClient, care: Care) -> None:
        response = client.get(
            "/api/v1/services", params={"q": "drop\x00in"}, headers=care.headers(care.coord)
        )
        problem(response, 422)


class TestHeaders:
    @pytest.mark.parametrize("key", ["k" * 201, "key\x01with-control"])
    @pytest.mark.parametrize("path", ["/api/v1/participants", "/api/v1/referrals"])
    def test_bad_idempotency_key_is_422(
        self, client: TestClient, care: Care, path: str, key: str
    ) -> None:
        body: dict[str, Any] = {"given_name": "Sam", "family_name": "Example"}
        if path == "/api/v1/referrals":
            body = {
                "participant_id": str(care.pid),
                "to_org_id": str(care.cmht.id),
                "reason": "Synthetic referral",
                "categories": ["plan"],
            }
        headers = {**care.headers(care.coord), "Idempotency-Key": key}
        problem(client.post(path, json=body, headers=headers), 422)

    def test_unknown_purpose_is_422(self, client: TestClient, care: Care) -> None:
        headers = {**care.headers(care.coord), "X-Purpose": SENTINEL}
        problem(client.get(care.url("/alerts"), headers=headers), 422)


class TestNullsInPatch:
    def test_null_service_description_clears_it(self, client: TestClient, care: Care) -> None:
        """PATCH /services/{id} {"description": null} was a NOT NULL violation (500) on PG."""
        headers = care.world.headers(care.coord, Role.org_admin)
        care.db.commit()
        created = client.post(
            "/api/v1/services",
            json={"name": "Drop-in", "setting": "community", "description": "Synthetic"},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        url = f"/api/v1/services/{created.json()['id']}"
        response = client.patch(url, json={"description": None}, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["description"] == ""
        for name in ("name", "setting", "active", "categories"):
            problem(client.patch(url, json={name: None}, headers=headers), 422)

    @pytest.mark.parametrize("name", ["given_name", "family_name", "phase"])
    def test_null_required_participant_field_is_4xx(
        self, client: TestClient, care: Care, name: str
    ) -> None:
        headers = care.headers(care.coord)
        etag = client.get(care.url(), headers=headers).headers["ETag"]
        response = client.patch(
            care.url(), json={name: None}, headers={**headers, "If-Match": etag}
        )
        problem(response, 422)


class TestDatesOutOfRange:
    @pytest.mark.parametrize(
        "moment",
        ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59"],
    )
    def test_consent_expiry_beyond_the_calendar_is_422(
        self, client: TestClient, care: Care, db: Session, moment: str
    ) -> None:
        before = count(db, Consent)
        body = {
            "categories": ["plan"],
            "purposes": ["direct_care"],
            "method": "verbal",
            "recipient_org_kinds": ["community_mental_health"],
            "expires_at": moment,
        }
        response = client.post(care.url("/consents"), json=body, headers=care.headers(care.coord))
        problem(response, 422)
        assert count(db, Consent) == before

    def test_appointment_at_the_end_of_time_is_422(self, client: TestClient, care: Care) -> None:
        body = {
            "kind": "assessment",
            "starts_at": "9999-12-31T22:00:00Z",
            "ends_at": "9999-12-31T23:59:59-05:00",
        }
        response = client.post(
            care.url("/appointments"), json=body, headers=care.headers(care.coord)
        )
        problem(response, 422)


def test_body_limit_is_documented_on_every_body_operation() -> None:
    limit = get_settings().max_body_bytes
    assert limit > 0
    for path, ops in OPENAPI["paths"].items():
        for method, op in ops.items():
            if "requestBody" in op:
                assert documented(method, path, 413), f"{method.upper()} {path}"
