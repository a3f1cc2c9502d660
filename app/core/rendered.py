"""Responses whose body pydantic has already serialised, for models built and validated once.

A route that returns a model lets FastAPI validate it against the response model again
and serialise it in two passes (to Python, then `json.dumps`). A route that already holds
the validated model returns it rendered instead: the same bytes in one pass. The route
keeps its `response_model`, so the OpenAPI document is unchanged.
"""

from typing import Any, cast

from fastapi.responses import JSONResponse
from pydantic import BaseModel


class RenderedJSON(JSONResponse):
    """A JSON response whose body is already serialised (compact, UTF-8)."""

    def render(self, content: Any) -> bytes:
        return cast(bytes, content)


def rendered(
    model: BaseModel, headers: dict[str, str] | None = None, *, exclude_unset: bool = False
) -> RenderedJSON:
    """`model` as FastAPI would send it (compact JSON of its JSON-mode dump)."""
    return RenderedJSON(
        model.model_dump_json(exclude_unset=exclude_unset).encode(), headers=headers
    )
