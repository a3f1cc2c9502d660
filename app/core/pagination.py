"""Cursor pagination: opaque cursors over a stable (sort key, id) ordering."""

import base64
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from app.core.errors import AppError
from app.core.settings import get_settings

T = TypeVar("T")


class InvalidCursor(AppError):
    status, title, slug = 400, "Invalid cursor", "invalid-cursor"


class Page(BaseModel, Generic[T]):
    """One page of a list; `next_cursor` is null on the last page."""

    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    limit: int
    cursor: list[Any] | None


def encode_cursor(values: list[Any]) -> str:
    """An opaque cursor for the position after `values`."""
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    """The position stored in a cursor; 400 when it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise InvalidCursor("The cursor is not valid.") from None
    if not isinstance(values, list) or not values:
        raise InvalidCursor("The cursor is not valid.")
    return values


def page_params(
    limit: Annotated[int | None, Query(ge=1, description="Page size (capped).")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> PageParams:
    """The page size (capped by settings) and decoded cursor of a list request."""
    settings = get_settings()
    size = min(limit or settings.default_page_size, settings.max_page_size)
    return PageParams(limit=size, cursor=decode_cursor(cursor) if cursor else None)


# The widest integer column a cursor can point into (BIGINT); PostgreSQL refuses more.
_INT_RANGE = range(-(2**63), 2**63)


def _coerce(column: Any, value: Any) -> Any:
    """A cursor value as the key column's type; 400 for anything the server never issued.

    A forged cursor must not reach the database as something it cannot bind: an integer
    beyond BIGINT, a timestamp without zone or outside the calendar once in UTC, or text
    with NUL (which PostgreSQL cannot hold).
    """
    import uuid
    from datetime import UTC, date, datetime

    try:
        python_type = column.type.python_type
    except NotImplementedError:
        python_type = type(value)
    if python_type is object:  # SQLModel's AutoString (str fields) names no Python type
        python_type = str
    if isinstance(value, dict | list) or (isinstance(value, str) and "\x00" in value):
        raise InvalidCursor("The cursor is not valid.")
    try:
        if python_type is uuid.UUID:
            return uuid.UUID(str(value))
        if python_type is datetime:
            moment = datetime.fromisoformat(str(value))
            if moment.tzinfo is None:
                raise ValueError("naive")
            moment.astimezone(UTC)  # OverflowError at the ends of the calendar
            return moment
        if python_type is date:
            return date.fromisoformat(str(value))
        if python_type is int:
            number = int(value)
            if isinstance(value, bool) or number not in _INT_RANGE:
                raise ValueError("out of range")
            return number
        return python_type(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidCursor("The cursor is not valid.") from None


def after_clause(keys: Sequence[Any], values: list[Any], descending: bool = False) -> Any:
    """The keyset condition "strictly after `values` in `keys` order"."""
    from sqlalchemy import and_, or_

    clauses = []
    for i, key in enumerate(keys):
        equal = [keys[j] == values[j] for j in range(i)]
        beyond = key < values[i] if descending else key > values[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)


# A statement that places the keyset condition itself (say, inside each branch of a
# union so that every branch walks its own index from the cursor): called with the
# condition builder for its own key columns (None on the first page) and the number of
# rows to fetch; `paginate` adds the outer ORDER BY and LIMIT.
KeysetBuilder = Callable[[Callable[[Sequence[Any]], Any], int], Any]


def paginate(
    session: Any,
    stmt: Any,
    keys: Sequence[Any],
    params: PageParams,
    *,
    descending: bool = False,
) -> tuple[list[Any], str | None]:
    """One page of the single-entity `stmt` (a statement or a `KeysetBuilder`), in key
    order, and the cursor for the next."""
    values: list[Any] | None = None
    if params.cursor is not None:
        if len(params.cursor) != len(keys):
            raise InvalidCursor("The cursor is not valid.")
        values = [_coerce(k, v) for k, v in zip(keys, params.cursor, strict=True)]
    if callable(stmt):
        found = values

        def after(branch_keys: Sequence[Any]) -> Any:
            return None if found is None else after_clause(branch_keys, found, descending)

        stmt = stmt(after, params.limit + 1)
    elif values is not None:
        stmt = stmt.where(after_clause(keys, values, descending))
    order = [k.desc() if descending else k.asc() for k in keys]
    rows = list(session.exec(stmt.order_by(*order).limit(params.limit + 1)).all())
    if len(rows) <= params.limit:
        return rows, None
    rows = rows[: params.limit]
    last = rows[-1]
    return rows, encode_cursor([getattr(last, k.key) for k in keys])


Paging = Annotated[PageParams, Depends(page_params)]
