"""405 answers that name every method a path takes (`Allow`), whichever route matched first.

Starlette answers 405 with the methods of the first route whose path matched, so a path
served by one route per method (GET and POST on `/api/v1/referrals`) said `Allow: GET`.
And a fixed path such as `/api/v1/services/stale` also matches `/services/{service_id}`,
so `PATCH /services/stale` reached the id route and failed validation (422) instead of
being refused as a method the path does not take.
"""

from collections.abc import Iterable

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.errors import problem_response


def allowed_methods(routes: Iterable[BaseRoute], path: str) -> tuple[list[str], str]:
    """The methods `path` takes, sorted, and the route template it matched.

    A fixed path (no parameters) takes only its own routes' methods: `/services/stale`
    is never a `{service_id}`. Otherwise every route whose template matches counts.
    """
    fixed: set[str] = set()
    methods: set[str] = set()
    template = ""
    for context in iter_route_contexts(list(routes)):
        regex = getattr(context, "path_regex", None)
        if regex is None or not context.methods or not regex.match(path):
            continue
        methods |= set(context.methods)
        template = template or str(context.path)
        if context.path == path:
            fixed |= set(context.methods)
    if fixed:
        return sorted(fixed), path
    return sorted(methods), template


def _fixed_paths(app: FastAPI) -> dict[str, set[str]]:
    """Route paths without parameters → the methods they take."""
    table: dict[str, set[str]] = {}
    for context in iter_route_contexts(app.routes):
        path = context.path
        if path and "{" not in path and context.methods:
            table.setdefault(path, set()).update(context.methods)
    return table


class FixedPathMethods:
    """Refuse a method a fixed path does not take before a parameterised route claims it."""

    def __init__(self, app: ASGIApp, application: FastAPI) -> None:
        self.app = app
        self.application = application
        self._table: dict[str, set[str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if self._table is None:
                self._table = _fixed_paths(self.application)
            path = scope["path"]
            methods = self._table.get(path)
            if methods is not None and scope["method"] not in methods:
                allow = sorted(methods)
                response = problem_response(
                    405,
                    "Method not allowed",
                    "method-not-allowed",
                    None,
                    f"This path takes {', '.join(allow)}.",
                    headers={"Allow": ", ".join(allow)},
                    instance=path,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
