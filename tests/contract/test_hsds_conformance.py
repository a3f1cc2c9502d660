"""The directory's Open Referral output conforms to HSDS 3.0 (issue 12).

Two layers. `test_*_validates_against_the_official_schema` checks every page and service
against the official HSDS 3.0 compiled JSON schemas, read from THROUGHCARE_HSDS_SCHEMA_DIR
(nothing from the specification is kept in this repository); it validates strictly, as
the specification checks its own examples (`additionalProperties: false` everywhere, and
formats such as `uuid`, `uri` and `email` checked). The other tests always run: they pin
the rules that validation once failed on, so CI checks conformance without the files.
"""

import json
import os
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.demo import seed
from app.models.directory import Service, Setting
from app.models.organisation import OrgKind
from tests.fixtures import World

EXPORT = "/api/v1/services/export/hsds"
FEED = "/api/v1/hsds/services"
SCHEMA_DIR_VARIABLE = "THROUGHCARE_HSDS_SCHEMA_DIR"
PAGE_KEYS = {
    "total_items": int,
    "total_pages": int,
    "page_number": int,
    "size": int,
    "first_page": bool,
    "last_page": bool,
    "empty": bool,
    "contents": list,
}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def demo(db: Session, world: World) -> dict[str, str]:
    """The demo directory (8 services without address, email or website), one service
    with all three and one whose email and website are not valid addresses."""
    seed(db)
    provider = world.org("Provider", OrgKind.housing)
    common = {"provider_org_id": provider.id, "setting": Setting.community, "created_by": "test"}
    db.add(
        Service(
            name="Aaa full entry",
            website="https://housing.example.org/tenancy",
            email="tenancy@example.org",
            address="1 Synthetic Street, Northtown NT1 1AA",
            categories=["housing", "benefits"],
            exclusions=[],
            criminal_record_exclusions=[],
            **common,
        )
    )
    db.add(
        Service(
            name="Aab odd contact",
            website="ring us",
            email="at the front desk",
            categories=["housing"],
            exclusions=[],
            criminal_record_exclusions=[],
            **common,
        )
    )
    db.commit()
    return world.headers(world.org("Probation reader", OrgKind.probation))


def _pages(client: TestClient, headers: dict[str, str], path: str) -> Iterator[dict[str, Any]]:
    number = 1
    while True:
        res = client.get(path, params={"page": number, "per_page": 3}, headers=headers)
        assert res.status_code == 200, res.text
        page: dict[str, Any] = res.json()
        yield page
        if page["last_page"]:
            return
        number += 1


def _services(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    return [s for page in _pages(client, headers, EXPORT) for s in page["contents"]]


# --- against the official schema (when its files are present) ---------------------------


def _strict(schema: Any) -> Any:
    """The schema with `additionalProperties: false` on every object that lists properties
    (what the specification's `--set-additional-properties-false-everywhere` does)."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@cache
def _official(name: str) -> Any:
    import jsonschema

    folder = os.environ.get(SCHEMA_DIR_VARIABLE)
    if not folder:
        pytest.skip(
            f"set {SCHEMA_DIR_VARIABLE} to a directory holding the HSDS 3.0 compiled schemas "
            "(service.json, service_list.json from github.com/openreferral/specification, "
            "branch 3.0, schema/compiled/) to validate against the official schema"
        )
    path = Path(folder) / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"{SCHEMA_DIR_VARIABLE}={folder} has no {name}.json")
    schema = _strict(json.loads(path.read_text()))
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def _page_schema() -> Any:
    """HSDS 3.0's `Page` (from its openapi.json: the envelope of every list response)."""
    import jsonschema

    properties: dict[str, Any] = {
        k: {"type": {int: "integer", bool: "boolean", list: "array"}[t]}
        for k, t in PAGE_KEYS.items()
    }
    return jsonschema.Draft202012Validator(
        {"type": "object", "properties": properties, "additionalProperties": False}
    )


def _errors(validator: Any, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


@pytest.mark.parametrize(("path", "item_schema"), [(EXPORT, "service"), (FEED, "service_list")])
def test_pages_validate_against_the_official_schema(
    client: TestClient, demo: dict[str, str], path: str, item_schema: str
) -> None:
    items = _official(item_schema)
    errors: list[str] = []
    for page in _pages(client, demo, path):
        errors += _errors(_page_schema(), page)
        for service in page["contents"]:
            errors += [f"{service.get('id')}: {e}" for e in _errors(items, service)]
    assert not errors, f"{len(errors)} HSDS 3.0 errors:\n" + "\n".join(errors[:40])


def test_one_service_validates_against_the_official_schema(
    client: TestClient, demo: dict[str, str]
) -> None:
    validator = _official("service")
    for listed in _services(client, demo):
        res = client.get(f"{FEED}/{listed['id']}", headers=demo)
        assert res.status_code == 200, res.text
        assert not _errors(validator, res.json())


# --- the rules validation once failed on (always run) -----------------------------------


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}/{index}")


def _nested(service: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for key in ("phones", "schedules", "attributes", "service_at_locations"):
        for item in service[key]:
            yield key, item
    for attribute in service["attributes"]:
        yield "taxonomy_term", attribute["taxonomy_term"]
    for at_location in service["service_at_locations"]:
        yield "location", at_location["location"]


def test_no_field_is_ever_null(client: TestClient, demo: dict[str, str]) -> None:
    """HSDS 3.0 has no nullable fields: a value we do not hold is left out."""
    nulls = [p for s in _services(client, demo) for p, v in _walk(s) if v is None]
    assert not nulls, nulls[:10]


def test_every_nested_object_has_a_uuid_id(client: TestClient, demo: dict[str, str]) -> None:
    services = _services(client, demo)
    kinds = set()
    for service in services:
        assert UUID.match(service["id"]) and UUID.match(service["organization"]["id"])
        for kind, item in _nested(service):
            kinds.add(kind)
            assert UUID.match(item.get("id", "")), (kind, item)
    assert kinds == {
        "phones",
        "schedules",
        "attributes",
        "taxonomy_term",
        "service_at_locations",
        "location",
    }


def test_required_fields_are_present(client: TestClient, demo: dict[str, str]) -> None:
    for service in _services(client, demo):
        assert {"id", "name", "status"} <= set(service)
        assert service["status"] in {"active", "inactive", "defunct", "temporarily closed"}
        assert {"id", "name", "description"} <= set(service["organization"])
        for kind, item in _nested(service):
            required = {
                "phones": {"number"},
                "taxonomy_term": {"name", "description"},
                "location": {"location_type"},
            }.get(kind, set())
            assert required <= set(item), (kind, item)
        for schedule in service["schedules"]:
            assert schedule["freq"] == "WEEKLY"
            assert schedule["byday"] in {"MO", "TU", "WE", "TH", "FR", "SA", "SU"}


def test_ids_are_stable_and_a_term_has_one_id(client: TestClient, demo: dict[str, str]) -> None:
    first, again = _services(client, demo), _services(client, demo)
    assert first == again
    term_ids: dict[tuple[str, str], set[str]] = {}
    all_ids: list[str] = []
    for service in first:
        for kind, item in _nested(service):
            if kind == "taxonomy_term":
                term_ids.setdefault((item["taxonomy"], item["code"]), set()).add(item["id"])
            else:
                all_ids.append(item["id"])
    assert all(len(ids) == 1 for ids in term_ids.values()), term_ids
    assert len(all_ids) == len(set(all_ids)), "two nested objects share an id"


def test_url_and_email_only_when_valid(client: TestClient, demo: dict[str, str]) -> None:
    by_name = {s["name"]: s for s in _services(client, demo)}
    full, odd = by_name["Aaa full entry"], by_name["Aab odd contact"]
    assert full["url"] == "https://housing.example.org/tenancy"
    assert full["email"] == "tenancy@example.org"
    assert "url" not in odd and "email" not in odd
    assert all("url" not in s and "email" not in s for n, s in by_name.items() if n[:2] != "Aa")


def test_an_address_is_a_physical_location(client: TestClient, demo: dict[str, str]) -> None:
    by_name = {s["name"]: s for s in _services(client, demo)}
    [at_location] = by_name["Aaa full entry"]["service_at_locations"]
    assert at_location["service_id"] == by_name["Aaa full entry"]["id"]
    assert at_location["location_id"] == at_location["location"]["id"]
    assert at_location["location"]["location_type"] == "physical"
    assert at_location["location"]["description"] == "1 Synthetic Street, Northtown NT1 1AA"
    assert by_name["Aab odd contact"]["service_at_locations"] == []


@pytest.mark.parametrize("path", [EXPORT, FEED])
def test_the_page_envelope_is_hsds(client: TestClient, demo: dict[str, str], path: str) -> None:
    pages = list(_pages(client, demo, path))
    total = pages[0]["total_items"]
    assert total >= 10 and len(pages) == pages[0]["total_pages"] == -(-total // 3)
    for number, page in enumerate(pages, start=1):
        assert {k: type(v) for k, v in page.items()} == PAGE_KEYS
        assert page["page_number"] == number and page["size"] == len(page["contents"])
        assert page["first_page"] is (number == 1)
        assert page["last_page"] is (number == len(pages))
        assert page["empty"] is False
    names = [s["name"] for p in pages for s in p["contents"]]
    assert names == sorted(names) and len(names) == total
    beyond = client.get(path, params={"page": len(pages) + 1}, headers=demo).json()
    assert beyond["contents"] == [] and beyond["empty"] is True and beyond["last_page"]


def test_feed_list_items_are_one_to_one_unless_full(
    client: TestClient, demo: dict[str, str]
) -> None:
    """An HSDS `/services` list item carries no nested arrays (`service_list`); `full`
    asks for the nested service, as the export always gives."""
    plain = client.get(FEED, params={"per_page": 100}, headers=demo).json()["contents"]
    full = client.get(FEED, params={"per_page": 100, "full": True}, headers=demo).json()
    nested = {"phones", "schedules", "attributes", "service_at_locations"}
    assert plain and all(not (nested & set(s)) for s in plain)
    assert full["contents"] == _services(client, demo)
