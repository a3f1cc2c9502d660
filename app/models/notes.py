"""Case notes: dated notes on a participant, each in one data category chosen by the author.

An amendment never overwrites: every version (the first one included) is kept in
`case_note_versions`, and the note row carries the current text and version number.
"""

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import model_validator
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import InputModel, UTCDateTime, enum_type, new_id, utcnow
from app.models.listing import WithheldCountRead
from app.sharing.categories import Category


class NoteKind(StrEnum):
    """What kind of contact a case note records."""

    contact = "contact"
    meeting = "meeting"
    phone_call = "phone_call"
    letter = "letter"
    other = "other"


class CaseNoteFields(SQLModel):
    kind: NoteKind = Field(sa_type=enum_type(NoteKind))
    category: Category = Field(sa_type=enum_type(Category))
    occurred_on: date = Field(
        index=True, description="The day the contact or event happened (not when it was written)."
    )
    text: str = Field(min_length=1, max_length=8000)


class CaseNoteCreate(CaseNoteFields, InputModel):
    """Body of POST …/notes: the author's organisation is the source, never the client."""


class CaseNoteUpdate(InputModel):
    """Body of PATCH …/notes/{note_id}: what changes, and why (the old version is kept)."""

    kind: NoteKind | None = None
    category: Category | None = None
    occurred_on: date | None = Field(
        default=None, description="The corrected day the contact happened."
    )
    text: str | None = Field(default=None, min_length=1, max_length=8000)
    reason: str = Field(min_length=3, max_length=500)

    @model_validator(mode="after")
    def _changes_something(self) -> "CaseNoteUpdate":
        fields = (self.kind, self.category, self.occurred_on, self.text)
        if all(value is None for value in fields):
            raise ValueError("an amendment changes at least one of kind, category, date, text")
        return self


class CaseNote(CaseNoteFields, table=True):
    __tablename__ = "case_notes"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    source_org_id: uuid.UUID = Field(foreign_key="organisations.id")
    author: str = Field(max_length=120)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CaseNoteVersion(SQLModel, table=True):
    """One version of a note as it read then (version 1 is the note as first written)."""

    __tablename__ = "case_note_versions"
    __table_args__ = (UniqueConstraint("note_id", "version"),)
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    note_id: uuid.UUID = Field(foreign_key="case_notes.id", index=True)
    version: int
    kind: NoteKind = Field(sa_type=enum_type(NoteKind))
    category: Category = Field(sa_type=enum_type(Category))
    occurred_on: date
    text: str = Field(max_length=8000)
    written_by: str = Field(max_length=120)
    written_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    reason: str | None = Field(default=None, max_length=500)


class CaseNoteRead(CaseNoteFields):
    """A case note as it reads now, with who wrote it and its version."""

    id: uuid.UUID
    participant_id: uuid.UUID
    source_org_id: uuid.UUID
    author: str = Field(description="Who wrote the note (`user:<id>` or `client:<id>`).")
    version: int
    created_at: datetime
    updated_at: datetime


class CaseNoteVersionRead(SQLModel):
    """One version of a case note as it read then."""

    version: int
    kind: NoteKind
    category: Category
    occurred_on: date = Field(description="The day the contact happened, as this version said.")
    text: str
    written_by: str = Field(description="Who wrote this version (`user:<id>` or `client:<id>`).")
    written_at: datetime = Field(description="When this version was written.")
    reason: str | None


class CaseNoteHistory(SQLModel):
    """Every version of a note the caller may see, oldest first."""

    note_id: uuid.UUID = Field(description="The case note these versions belong to.")
    items: list[CaseNoteVersionRead]
    withheld: list[WithheldCountRead] = []
