"""The route table: every route of the app has an entry (deny by default), and the entry
matches what the route declares (its scopes, whether it needs a token or `admin`)."""

from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from app.auth.caller import get_caller
from app.main import app
from tests.route_table import NON_API_ROUTES, ROUTES, Entry

# Entries that state the contract the issue asks for, ahead of the fix (strict: the mark
# must go when the route changes).
SCOPE_XFAIL = {
    ("POST", "/api/v1/participants/{participant_id}/consents/{consent_id}/withdraw"): (
        "issue 8 §3: withdrawing consent needs consents:write (today consents:read)"
    ),
}


def _walk(dependant: Dependant, scopes: set[str], calls: set[Any]) -> None:
    scopes.update(str(s) for s in dependant.own_oauth_scopes or [])
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
            found[key] = (frozenset(scopes), get_caller in calls)
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
