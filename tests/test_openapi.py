"""The committed OpenAPI document is current, and every API operation documents auth and errors."""

import json
from pathlib import Path
from typing import Any

import pytest

from app.openapi_export import openapi_document, render

COMMITTED = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
METHODS = {"get", "post", "put", "patch", "delete"}
PUBLIC = {("post", "/api/v1/auth/token")}


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    paths: dict[str, dict[str, Any]] = openapi_document()["paths"]
    return [
        (method, path, operation)
        for path, item in sorted(paths.items())
        for method, operation in item.items()
        if method in METHODS and path.startswith("/api/v1/")
    ]


OPERATIONS = _operations()
IDS = [f"{method.upper()} {path}" for method, path, _ in OPERATIONS]


def test_committed_document_is_current() -> None:
    assert COMMITTED.exists(), "openapi/openapi.json is missing: run make openapi"
    committed = COMMITTED.read_text()
    assert committed == render(), "openapi/openapi.json is out of date: run make openapi"


def test_committed_document_is_valid_json_with_the_api() -> None:
    document = json.loads(COMMITTED.read_text())
    assert document["openapi"].startswith("3.")
    assert "/api/v1/auth/token" in document["paths"]
    assert "oauth2" in document["components"]["securitySchemes"]


def test_there_are_operations_to_check() -> None:
    assert len(OPERATIONS) >= 10


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=IDS)
def test_operation_declares_security(method: str, path: str, operation: dict[str, Any]) -> None:
    if (method, path) in PUBLIC:
        assert not operation.get("security"), "the token endpoint must stay public"
        return
    schemes = {name for requirement in operation.get("security", []) for name in requirement}
    assert schemes == {"oauth2"}, f"{method.upper()} {path} declares no security"
    if path.startswith("/api/v1/admin/"):
        assert operation["security"] == [{"oauth2": ["admin"]}]


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=IDS)
def test_operation_documents_a_problem_response(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    problems = [
        code
        for code, response in operation["responses"].items()
        if code.startswith("4") and "application/problem+json" in response.get("content", {})
    ]
    assert problems, f"{method.upper()} {path} documents no 4xx problem+json response"
    if (method, path) not in PUBLIC:
        assert "401" in problems
