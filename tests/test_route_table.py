"""The route table: every route of the app has an entry (deny by default), the entry
matches what the route declares (its scopes, whether it needs a token or `admin`), and
every route that discloses or refuses writes one access event per participant touched."""

import uuid
from collections import Counter
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.auth.caller import get_caller
from app.auth.guards import get_directory_reader
from app.main import app
from app.models.audit import AccessEvent
from app.sharing.deps import GATE_SCOPES
from tests.fixtures import World
from tests.route_audit_cases import CASES, Case
from tests.route_table import NON_API_ROUTES, ROUTES, Entry
from tests.route_world import RouteWorld

# Entries that state the contract the issue asks for, ahead of the fix (strict: the mark
# must go when the route changes).
SCOPE_XFAIL: dict[tuple[str, str], str] = {}


def _walk(dependant: Dependant, scopes: set[str], calls: set[Any]) -> None:
    scopes.update(str(s) for s in dependant.own_oauth_scopes or [])
    # The gate dependency reads the token itself and names its scopes (the OpenAPI
    # document declares them from the same attribute, app/openapi_extras.py).
    scopes.update(str(s) for s in getattr(dependant.call, GATE_SCOPES, None) or [])
    if dependant.call is not None:
        calls.add(dependant.call)
    for sub in dependant.dependencies:
        _walk(sub, scopes, calls)


def app_routes() -> dict[tuple[str, str], tuple[frozenset[str], bool]]:
    """(method, path) of every API route -> (declared scopes, needs a token)."""
    found: dict[tuple[str, str], tuple[frozenset[str], bool]] = {}
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        scopes: set[str] = set()
        calls: set[Any] = set()
        _walk(context.dependant, scopes, calls)
        for method in sorted(context.methods or ()):
            key = (method, str(context.path))
            assert key not in found, f"{key} is declared twice"
            # A token is verified by get_caller, or by the gate dependency that verifies it
            # itself (app/sharing/deps.py, marked `authenticates`). A directory read needs a
            # token unless THROUGHCARE_PUBLIC_DIRECTORY is set (off by default;
            # tests/api/test_public_directory.py covers both settings).
            verifies = any(
                c is get_caller or c is get_directory_reader or getattr(c, "authenticates", False)
                for c in calls
            )
            found[key] = (frozenset(scopes), verifies)
    return found


APP_ROUTES = app_routes()


def test_every_route_has_an_entry() -> None:
    """A route added without an entry in tests/route_table.py fails (deny by default)."""
    missing = sorted(set(APP_ROUTES) - set(ROUTES))
    assert not missing, f"routes without an entry in tests/route_table.py: {missing}"


def test_no_entry_for_a_route_that_does_not_exist() -> None:
    stale = sorted(set(ROUTES) - set(APP_ROUTES))
    assert not stale, f"entries for routes the app no longer has: {stale}"


def test_only_known_non_api_routes() -> None:
    """Anything mounted outside FastAPI's operations (a static mount, a bare Starlette
    route) bypasses the dependencies this table checks: only the docs pages may."""
    others = {
        str(getattr(c.original_route, "path", c.original_route))
        for c in iter_route_contexts(app.routes)
        if not isinstance(c.original_route, APIRoute)
    }
    assert others <= NON_API_ROUTES, sorted(others - NON_API_ROUTES)


def _scope_params() -> list[Any]:
    params = []
    for key in sorted(ROUTES):
        marks = []
        if key in SCOPE_XFAIL:
            marks.append(pytest.mark.xfail(strict=True, reason=SCOPE_XFAIL[key]))
        params.append(pytest.param(key, ROUTES[key], id=f"{key[0]} {key[1]}", marks=marks))
    return params


@pytest.mark.parametrize(("key", "entry"), _scope_params())
def test_entry_matches_the_declared_scopes_and_access(key: tuple[str, str], entry: Entry) -> None:
    if key not in APP_ROUTES:
        pytest.fail(f"{key} is not a route of the app")
    scopes, needs_token = APP_ROUTES[key]
    assert scopes == entry.scopes, f"{key} declares {sorted(scopes)}"
    if entry.access == "public":
        assert not needs_token and not scopes
    else:
        assert needs_token, f"{key} is reachable without a token"
        assert ("admin" in scopes) == (entry.access == "admin")
    if entry.discloses != "no":
        # A route that tells anything about a participant is never open to anonymous callers.
        assert entry.access != "public"


# -- the audit: one access event per participant touched -----------------------------


def _events(db: Session, request_id: str) -> list[AccessEvent]:
    return list(db.exec(select(AccessEvent).where(AccessEvent.request_id == request_id)).all())


def test_every_disclosing_route_has_allowed_and_refused_cases() -> None:
    """A route that discloses or refuses is called as an allowed and as a refused caller."""
    kinds: dict[tuple[str, str], set[str]] = {}
    for c in CASES:
        assert c.route in ROUTES, f"audit case for an unknown route: {c.id}"
        kinds.setdefault(c.route, set()).add(c.kind)
    for key, entry in sorted(ROUTES.items()):
        if entry.discloses == "no":
            assert key not in kinds, (
                f"{key} has audit cases but the table says it discloses nothing"
            )
        elif entry.discloses == "yes":
            assert kinds.get(key) == {"allowed", "refused"}, f"{key}: {kinds.get(key)}"
        else:
            assert "refused" in kinds.get(key, set()), key
    assert len({c.id for c in CASES}) == len(CASES), "two audit cases share a name"


def _case_params() -> list[Any]:
    return [
        pytest.param(
            c,
            id=c.id,
            marks=[pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else [],
        )
        for c in CASES
    ]


@pytest.mark.parametrize("case", _case_params())
def test_one_access_event_per_participant_touched(
    case: Case, client: TestClient, world: World, db: Session
) -> None:
    call = case.build(RouteWorld(client, world, db))
    request_id = uuid.uuid4().hex
    response = client.request(
        call.method,
        call.url,
        headers={**call.headers, "X-Request-ID": request_id},
        json=call.json,
        params=call.params,
    )
    assert response.status_code == call.status, response.text
    expected = call.expect(response) if callable(call.expect) else call.expect
    events = _events(db, request_id)
    if response.status_code == 403:
        # A refusal by rule may also be logged without a person (the policy layer's
        # `authorize`); only events about participants are counted here.
        events = [e for e in events if e.participant_id is not None or e.outcome != "denied"]
    # "any": the contract fixes that the person is logged, not yet the outcome.
    got = Counter(
        (e.participant_id, "any" if expected.get(e.participant_id) == "any" else e.outcome)
        for e in events
    )
    assert got == Counter(expected.items()), (
        f"expected one event per participant {expected}, got "
        f"{[(e.participant_id, e.action, e.resource, e.outcome) for e in events]}"
    )
    if call.check is not None:
        call.check(events)


@pytest.mark.parametrize(
    "key", sorted(k for k, e in ROUTES.items() if e.access != "public"), ids=" ".join
)
def test_anonymous_call_is_401_and_writes_no_event(
    key: tuple[str, str], client: TestClient, db: Session
) -> None:
    method, path = key
    url = path.format_map(_AnyParam())
    request_id = uuid.uuid4().hex
    response = client.request(method, url, headers={"X-Request-ID": request_id})
    assert response.status_code == 401, response.text
    assert _events(db, request_id) == []


@pytest.mark.parametrize("path", sorted({p for _, p in ROUTES}))
def test_head_and_options_only_where_the_table_lists_them(path: str, client: TestClient) -> None:
    """A method the table does not list is not served (405), so no handler runs unlisted."""
    url = path.format_map(_AnyParam())
    for method in ("HEAD", "OPTIONS"):
        if (method, path) not in ROUTES:
            assert client.request(method, url).status_code == 405, (method, path)


class _AnyParam(dict[str, str]):
    """A plausible value for any path parameter."""

    def __missing__(self, name: str) -> str:
        return {"version": "1", "action": "submit"}.get(name, str(uuid.uuid4()))
