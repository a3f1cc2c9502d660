"""Documents: files attached to case notes or referrals, each in one data category, in the DB.

The bytes live in their own table so lists and metadata reads never load them. The type
is what the content is (sniffed from its first bytes), not what the name or the client's
Content-Type claims; the SHA-256 is of the bytes as stored.
"""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, LargeBinary
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, enum_type, new_id, utcnow
from app.sharing.categories import Category


class MediaType(StrEnum):
    """The file types accepted for documents."""

    pdf = "application/pdf"
    png = "image/png"
    jpeg = "image/jpeg"
    text = "text/plain"


class ScanStatus(StrEnum):
    """The virus scan result: `clean`, `pending` (held until scanned) or `infected`
    (never served)."""

    clean = "clean"  # scanned clean, or no scanner configured
    pending = "pending"  # held until a scanner says it is clean
    infected = "infected"  # never served


class Document(SQLModel, table=True):
    __tablename__ = "documents"
    # Attached to exactly one case note or one referral.
    __table_args__ = (
        CheckConstraint(
            "(note_id IS NULL) <> (referral_id IS NULL)", name="ck_documents_one_parent"
        ),
    )
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    source_org_id: uuid.UUID = Field(foreign_key="organisations.id")
    note_id: uuid.UUID | None = Field(default=None, foreign_key="case_notes.id", index=True)
    referral_id: uuid.UUID | None = Field(default=None, foreign_key="referrals.id", index=True)
    category: Category = Field(sa_type=enum_type(Category))
    filename: str = Field(max_length=200)
    media_type: MediaType = Field(sa_type=enum_type(MediaType))
    size_bytes: int
    sha256: str = Field(max_length=64)
    scan_status: ScanStatus = Field(sa_type=enum_type(ScanStatus))
    scan_detail: str | None = Field(default=None, max_length=200)
    uploaded_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class DocumentContent(SQLModel, table=True):
    __tablename__ = "document_contents"
    document_id: uuid.UUID = Field(foreign_key="documents.id", primary_key=True)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class DocumentRead(SQLModel):
    """A document attached to a case note (its content is fetched separately)."""

    id: uuid.UUID
    participant_id: uuid.UUID
    source_org_id: uuid.UUID
    note_id: uuid.UUID | None = Field(description="The case note it is attached to, or null.")
    referral_id: uuid.UUID | None = Field(
        default=None, description="The referral it is attached to, or null."
    )
    category: Category
    filename: str = Field(description="The file name as uploaded.")
    media_type: MediaType = Field(description="The file's type.")
    size_bytes: int = Field(description="The file's size in bytes.")
    sha256: str = Field(description="SHA-256 of the content (hex), to check a download.")
    scan_status: ScanStatus = Field(description="Whether the file has passed the virus scan.")
    uploaded_by: str = Field(description="Who uploaded it (`user:<id>` or `client:<id>`).")
    created_at: datetime
