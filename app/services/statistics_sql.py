"""SQL pieces the statistics need that the two backends spell differently.

PostgreSQL stores `timestamptz`; SQLite stores naive UTC text ("YYYY-MM-DD HH:MM:SS...")
and dates as "YYYY-MM-DD". Every helper returns an SQL expression: nothing is computed
in Python from rows.
"""

from typing import Any

from sqlalchemy import Date, Float, String, case, cast, func, select
from sqlalchemy.sql import Select
from sqlmodel import Session


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def utc_date(session: Session, stamp: Any) -> Any:
    """The UTC calendar date of a timestamp column."""
    if is_postgres(session):
        return cast(func.timezone("UTC", stamp), Date)
    return func.date(stamp)


def days_between(session: Session, later: Any, earlier: Any) -> Any:
    """`later - earlier` in (fractional) days, for two timestamps."""
    if is_postgres(session):
        return func.extract("epoch", later - earlier) / 86400.0
    return func.julianday(later) - func.julianday(earlier)


def days_from_stamp_to_date(session: Session, day: Any, stamp: Any) -> Any:
    """Whole days from a timestamp's UTC date to a date column (`day - date(stamp)`)."""
    if is_postgres(session):
        return cast(day - utc_date(session, stamp), Float)
    return func.julianday(day) - func.julianday(func.date(stamp))


def date_plus_days(session: Session, day: Any, days: int) -> Any:
    """A date column plus a whole number of days, as a date."""
    if is_postgres(session):
        return day + days
    return func.date(day, f"+{int(days)} days")


_PROTOCOL_MARK = '"protocol_id": "'


def first_protocol_id(session: Session, basis: Any) -> Any:
    """The first protocol id named in an access event's basis JSON (text, with dashes)."""
    text = cast(basis, String)
    if is_postgres(session):
        return func.substring(text, '"protocol_id": "([0-9a-f-]{36})"')
    at = func.instr(text, _PROTOCOL_MARK)
    return case((at > 0, func.substr(text, at + len(_PROTOCOL_MARK), 36)), else_=None)


def uuid_text(session: Session, column: Any) -> Any:
    """A UUID column as dashed text (SQLite keeps UUIDs as 32 hex digits)."""
    if is_postgres(session):
        return cast(column, String)
    c = cast(column, String)
    return (
        func.substr(c, 1, 8)
        + "-"
        + func.substr(c, 9, 4)
        + "-"
        + func.substr(c, 13, 4)
        + "-"
        + func.substr(c, 17, 4)
        + "-"
        + func.substr(c, 21, 12)
    )


def median(session: Session, values: Select[Any]) -> tuple[int, float | None]:
    """How many values a one-column select gives, and their median, in one SQL query.

    PostgreSQL has `percentile_cont`; SQLite has no percentile function, so there the
    values are numbered by a window function and the middle one or two averaged.
    """
    sub = values.subquery()
    x = sub.c[0]
    if is_postgres(session):
        q = select(func.count(x), func.percentile_cont(0.5).within_group(x)).select_from(sub)
        n, mid = session.execute(q).one()
    else:
        ranked = select(
            x.label("x"),
            func.row_number().over(order_by=x).label("rn"),
            func.count().over().label("n"),
        ).where(x.is_not(None))
        r = ranked.subquery()
        middle = (r.c.rn == (r.c.n + 1) // 2) | (r.c.rn == (r.c.n + 2) // 2)
        n_col = select(func.count(x)).select_from(sub).scalar_subquery()
        q = select(n_col, select(func.avg(r.c.x)).where(middle).scalar_subquery())
        n, mid = session.execute(q).one()
    return int(n or 0), (None if mid is None else float(mid))
