"""THROUGHCARE_PUBLIC_DIRECTORY opens the directory's read endpoints, and nothing else."""

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.core.settings import get_settings
from app.models.directory import Service, Setting
from app.models.organisation import OrgKind
from tests.fixtures import World
from tests.route_table import DIRECTORY_READ, ROUTES

OPENED = sorted(k for k, e in ROUTES.items() if e is DIRECTORY_READ)
STILL_CLOSED = sorted(k for k, e in ROUTES.items() if e.access != "public" and k not in OPENED)


@pytest.fixture
def public(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("THROUGHCARE_PUBLIC_DIRECTORY", "true")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("THROUGHCARE_PUBLIC_DIRECTORY")
    get_settings.cache_clear()


@pytest.fixture
def entry(db: Session, world: World) -> Service:
    provider = world.org("Provider", OrgKind.housing)
    service = Service(
        provider_org_id=provider.id,
        name="Public tenancy help",
        setting=Setting.community,
        categories=["housing"],
        exclusions=[],
        criminal_record_exclusions=[],
        created_by="test",
    )
    db.add(service)
    db.commit()
    return service


def _url(path: str, service_id: uuid.UUID) -> str:
    return path.replace("{service_id}", str(service_id))


def test_the_opened_routes_are_the_directory_reads() -> None:
    assert OPENED == [
        ("GET", "/api/v1/hsds"),
        ("GET", "/api/v1/hsds/services"),
        ("GET", "/api/v1/hsds/services/{service_id}"),
        ("GET", "/api/v1/services"),
        ("GET", "/api/v1/services/export/hsds"),
        ("GET", "/api/v1/services/{service_id}"),
    ]
    assert get_settings().public_directory is False


@pytest.mark.parametrize(("method", "path"), OPENED, ids=" ".join)
def test_off_by_default_anonymous_is_401(
    client: TestClient, entry: Service, method: str, path: str
) -> None:
    response = client.request(method, _url(path, entry.id))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("method", "path"), OPENED, ids=" ".join)
def test_public_anonymous_reads_the_directory(
    public: None, client: TestClient, world: World, entry: Service, method: str, path: str
) -> None:
    url = _url(path, entry.id)
    anonymous = client.request(method, url)
    assert anonymous.status_code == 200, anonymous.text
    reader = world.headers(world.org("Probation", OrgKind.probation))
    assert anonymous.json() == client.request(method, url, headers=reader).json()
    if path.endswith("{service_id}"):
        assert anonymous.json()["name"] == "Public tenancy help"


@pytest.mark.parametrize(("method", "path"), OPENED, ids=" ".join)
def test_public_a_bad_token_is_still_401(
    public: None, client: TestClient, entry: Service, method: str, path: str
) -> None:
    response = client.request(
        method, _url(path, entry.id), headers={"Authorization": "Bearer not-a-token"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path"), STILL_CLOSED, ids=" ".join)
def test_public_nothing_else_opens(
    public: None, client: TestClient, method: str, path: str
) -> None:
    url = path.format_map(_AnyParam())
    response = client.request(method, url)
    assert response.status_code == 401, (method, path, response.status_code)


def test_public_the_stale_list_and_organisations_still_need_a_token(
    public: None, client: TestClient
) -> None:
    assert ("GET", "/api/v1/services/stale") in STILL_CLOSED
    assert ("GET", "/api/v1/organisations") in STILL_CLOSED
    assert ("POST", "/api/v1/services") in STILL_CLOSED
    assert client.get("/api/v1/services/stale").status_code == 401


class _AnyParam(dict[str, str]):
    def __missing__(self, name: str) -> str:
        return {"version": "1", "action": "submit"}.get(name, str(uuid.uuid4()))
