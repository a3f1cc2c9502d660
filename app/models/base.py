"""Shared column types and helpers for the SQLModel family."""

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import StringConstraints, field_validator
from sqlalchemy import DateTime
from sqlalchemy import Enum as SAEnum
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel
from sqlmodel._compat import SQLModelConfig


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    """A fresh random identifier (not guessable, unlike a sequence)."""
    return uuid.uuid4()


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always returned timezone-aware.

    SQLite keeps no zone; PostgreSQL keeps `timestamptz`. Either way the API sees UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        # TypeDecorator answers `object`; cursor pagination needs the real type.
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        parsed: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)


def enum_type(enum_cls: type[StrEnum]) -> SAEnum:
    """A portable column type for a StrEnum: VARCHAR of its values, no native DB enum."""
    return SAEnum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=40,
        values_callable=lambda cls: [member.value for member in cls],
    )


# Request lists of enum values (categories, purposes, kinds, scopes): more room than any
# of those enums has members, so an honest list always fits and a flood is a 422.
ENUM_LIST_MAX = 20
# Request lists of identifiers (e.g. consent recipients).
ID_LIST_MAX = 50
# Dates and times a request may carry: wide enough for any date of birth or plan, narrow
# enough that conversion to UTC and date arithmetic (reminders, expiry, overdue checks)
# can never run off the end of the calendar.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2999, 12, 31)
# One item of a free-text list (exclusions, attendees ...).
ShortText = Annotated[str, StringConstraints(max_length=200)]


def contains_nul(value: Any) -> bool:
    """Whether a string, or any string inside lists and objects, holds a NUL character.

    PostgreSQL cannot store NUL in text (or JSON) columns, and no field has a use for one.
    """
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(contains_nul(item) for item in value)
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    return False


class InputModel(SQLModel):
    """Base of every request body: unknown fields are rejected (no mass assignment), no
    text may hold a NUL character, and dates stay within EARLIEST_DATE..LATEST_DATE
    (422 at validation, not a database or overflow error later)."""

    model_config = SQLModelConfig(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if contains_nul(value):
            raise ValueError("text must not contain NUL characters")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _dates_in_range(cls, value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            try:
                day = value.astimezone(UTC).date()
            except OverflowError:
                day = date.max
        elif isinstance(value, date):
            day = value if not isinstance(value, datetime) else value.date()
        else:
            return value
        if not EARLIEST_DATE <= day <= LATEST_DATE:
            raise ValueError(
                f"dates must lie between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}"
            )
        return value
