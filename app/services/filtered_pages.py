"""Cursor pages of rows that SQL can only narrow: the rest is decided per row in Python.

Some filters depend on the sharing decision (say, a phase filter only matches rows whose
custody the caller may see), which lives in one pure function and is not re-implemented
in SQL. The query selects a superset; `keep` decides each batch; scanning goes on from
the cursor until `limit` rows are kept, so the page and its cursor look exactly as if the
dropped rows had never matched (a short page could otherwise hint that some did).
"""

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlmodel import Session

from app.core.pagination import PageParams, decode_cursor, encode_cursor, paginate

T = TypeVar("T")
SCAN_BATCH = 50


def paginate_kept(
    session: Session,
    stmt: Any,
    keys: Sequence[Any],
    paging: PageParams,
    keep: Callable[[list[T]], list[T]],
    *,
    descending: bool = False,
) -> tuple[list[T], str | None]:
    """One page of the rows of `stmt` that `keep` keeps, in key order, and the next cursor."""
    kept: list[T] = []
    cursor = paging.cursor
    batch = max(paging.limit + 1, SCAN_BATCH)
    while len(kept) <= paging.limit:
        rows, next_cursor = paginate(
            session, stmt, keys, PageParams(limit=batch, cursor=cursor), descending=descending
        )
        kept.extend(keep(rows))
        if next_cursor is None:
            break
        cursor = decode_cursor(next_cursor)
    if len(kept) <= paging.limit:
        return kept, None
    kept = kept[: paging.limit]
    return kept, encode_cursor([getattr(kept[-1], k.key) for k in keys])
