"""The OpenAPI document is good enough to generate clients from (issue 12)."""

import re
from typing import Any

import pytest

from app.core.settings import get_settings
from app.main import create_app
from app.openapi_export import openapi_document
from app.openapi_glossary import EXAMPLES

DOC = openapi_document()
METHODS = {"get", "post", "put", "patch", "delete"}
OPERATIONS = [
    (method, path, op)
    for path, item in DOC["paths"].items()
    for method, op in item.items()
    if method in METHODS
]
CAMEL = re.compile(r"[a-z]+(?:[A-Z][a-z0-9]*)*")
# Schemas or fields without a description: none. Keep it empty (describe new fields).
UNDOCUMENTED_ALLOWED: set[str] = set()


def _op(method: str, path: str) -> dict[str, Any]:
    operation: dict[str, Any] = DOC["paths"][path][method]
    return operation


def _header(operation: dict[str, Any], name: str) -> dict[str, Any]:
    [parameter] = [
        p
        for p in operation.get("parameters", [])
        if p["in"] == "header" and p["name"].lower() == name.lower()
    ]
    return parameter


def test_operation_ids_are_short_camel_case_and_unique() -> None:
    ids = [op["operationId"] for _, _, op in OPERATIONS]
    assert len(ids) == len(set(ids)), "duplicate operationIds"
    bad = [i for i in ids if not CAMEL.fullmatch(i) or len(i) > 40]
    assert not bad, f"not short camelCase: {bad}"


def test_operation_ids_are_the_documented_method_names() -> None:
    assert _op("get", "/api/v1/participants")["operationId"] == "listParticipants"
    assert _op("post", "/api/v1/referrals/{referral_id}/{action}")["operationId"] == (
        "actOnReferral"
    )
    assert _op("post", "/api/v1/referrals")["operationId"] == "createReferral"
    assert _op("get", "/healthz")["operationId"] == "getHealth"


def test_operation_ids_are_stable_across_builds() -> None:
    again = create_app(get_settings().model_copy(update={"docs_enabled": True})).openapi()
    first = {(m, p): op["operationId"] for m, p, op in OPERATIONS}
    second = {
        (m, p): op["operationId"]
        for p, item in again["paths"].items()
        for m, op in item.items()
        if m in METHODS
    }
    assert first == second


def test_every_operation_has_a_plain_summary_and_a_described_tag() -> None:
    described = {t["name"] for t in DOC["tags"] if t.get("description")}
    for method, path, op in OPERATIONS:
        words = op["operationId"]
        default = re.sub(r"([A-Z])", r" \1", words).title()
        assert op.get("summary") and op["summary"] != default, f"{method} {path}"
        assert set(op.get("tags", [])) <= described, f"{method} {path}: {op.get('tags')}"
    assert DOC["servers"] and DOC["servers"][0]["url"].startswith("http")


def test_every_schema_and_field_is_described() -> None:
    missing = set()
    for name, schema in DOC["components"]["schemas"].items():
        if not schema.get("description"):
            missing.add(name)
        for field, prop in schema.get("properties", {}).items():
            if not prop.get("description"):
                missing.add(f"{name}.{field}")
    assert missing <= UNDOCUMENTED_ALLOWED, (
        f"undocumented: {sorted(missing - UNDOCUMENTED_ALLOWED)}"
    )


def test_x_purpose_is_typed_as_its_enum() -> None:
    purpose = _header(_op("get", "/api/v1/participants"), "X-Purpose")
    assert purpose["schema"] == {"$ref": "#/components/schemas/Purpose"}
    assert "direct_care" in DOC["components"]["schemas"]["Purpose"]["enum"]


@pytest.mark.parametrize(
    ("method", "path", "op"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS]
)
def test_preconditions_are_required_where_the_server_answers_428(
    method: str, path: str, op: dict[str, Any]
) -> None:
    headers = {p["name"].lower(): p for p in op.get("parameters", []) if p["in"] == "header"}
    if "if-match" in headers:
        assert headers["if-match"]["required"] is ("428" in op["responses"])
    if "idempotency-key" in headers:
        assert "428" in op["responses"], "partner clients get 428 without the key"


def test_patching_a_participant_documents_if_match_as_required() -> None:
    assert _header(_op("patch", "/api/v1/participants/{participant_id}"), "If-Match")["required"]
    assert _header(_op("patch", "/api/v1/referrals/{referral_id}"), "If-Match")["required"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/v1/participants/{participant_id}", "200"),
        ("patch", "/api/v1/participants/{participant_id}", "200"),
        ("post", "/api/v1/participants", "201"),
        ("get", "/api/v1/participants/{participant_id}/plan", "200"),
        ("get", "/api/v1/referrals/{referral_id}", "200"),
        ("post", "/api/v1/referrals", "201"),
        ("post", "/api/v1/referrals/{referral_id}/{action}", "200"),
        ("patch", "/api/v1/participants/{participant_id}/plan/goals/{goal_id}", "200"),
        ("patch", "/api/v1/participants/{participant_id}/appointments/{appointment_id}", "200"),
    ],
)
def test_etag_is_a_documented_response_header(method: str, path: str, status: str) -> None:
    assert "ETag" in _op(method, path)["responses"][status]["headers"]


def test_retry_after_is_documented_on_429() -> None:
    assert "Retry-After" in _op("post", "/api/v1/auth/token")["responses"]["429"]["headers"]


def test_every_api_operation_documents_503_with_retry_after() -> None:
    for method, path, op in OPERATIONS:
        if path.startswith("/api/v1/") or path == "/readyz":
            assert "Retry-After" in op["responses"]["503"]["headers"], f"{method} {path}"


def test_referral_action_body_is_optional_and_not_nullable() -> None:
    body = _op("post", "/api/v1/referrals/{referral_id}/{action}")["requestBody"]
    assert body["required"] is False
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReferralActionBody"
    }


@pytest.mark.parametrize(
    ("path", "required"),
    [("/healthz", "status"), ("/readyz", "database"), ("/.well-known/jwks.json", "keys")],
)
def test_operations_endpoints_have_response_schemas(path: str, required: str) -> None:
    schema = _op("get", path)["responses"]["200"]["content"]["application/json"]["schema"]
    assert required in schema["required"]


def test_forged_cursors_are_documented_as_400() -> None:
    for method, path, op in OPERATIONS:
        if any(p["name"] == "cursor" for p in op.get("parameters", [])):
            assert "400" in op["responses"], f"{method} {path}"


def _model(name: str) -> Any:
    import importlib
    import pkgutil

    import app.models

    modules = [
        importlib.import_module(f"app.models.{m.name}")
        for m in pkgutil.iter_modules(app.models.__path__)
    ]
    modules += [importlib.import_module(m) for m in ("app.auth.issue", "app.core.errors")]
    for module in modules:
        if hasattr(module, name):
            return getattr(module, name)
    raise AssertionError(f"no model {name}")


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_is_valid_for_its_model(name: str) -> None:
    _model(name).model_validate(EXAMPLES[name])
    assert DOC["components"]["schemas"][name]["examples"] == [EXAMPLES[name]]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/participants"),
        ("post", "/api/v1/referrals"),
        ("post", "/api/v1/participants/{participant_id}/consents"),
        ("post", "/api/v1/participants/{participant_id}/plan/goals"),
        ("post", "/api/v1/participants/{participant_id}/appointments"),
    ],
)
def test_main_request_bodies_have_an_example(method: str, path: str) -> None:
    ref = _op(method, path)["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert DOC["components"]["schemas"][ref.rsplit("/", 1)[1]]["examples"]
