"""Case notes of a participant (written by staff, read through the sharing gate)."""

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status

from app.auth.guards import AUTH_ERRORS
from app.core.errors import (
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Unprocessable,
    error_responses,
)
from app.core.etags import etag_for
from app.core.pagination import Paging
from app.models.listing import RecordPage
from app.models.notes import (
    CaseNoteCreate,
    CaseNoteHistory,
    CaseNoteRead,
    CaseNoteUpdate,
    NoteKind,
)
from app.services import case_notes
from app.sharing.categories import Category
from app.sharing.deps import RecordsRead, RecordsWrite

router = APIRouter(
    prefix="/api/v1/participants/{participant_id}/notes",
    tags=["case notes"],
    responses={**AUTH_ERRORS, **error_responses(NotFound)},
)


@router.get("", response_model=RecordPage[CaseNoteRead], operation_id="listCaseNotes")
def list_case_notes(
    gate: RecordsRead,
    participant_id: uuid.UUID,
    paging: Paging,
    kind: NoteKind | None = None,
    category: Category | None = None,
    occurred_from: Annotated[date | None, Query(alias="from")] = None,
    occurred_to: Annotated[date | None, Query(alias="to")] = None,
) -> RecordPage[CaseNoteRead]:
    """Case notes the caller may see, newest first; filter by kind, category and date."""
    return case_notes.list_notes(
        gate,
        participant_id,
        paging,
        kind=kind,
        category=category,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
    )


@router.post(
    "",
    response_model=CaseNoteRead,
    status_code=status.HTTP_201_CREATED,
    operation_id="writeCaseNote",
    responses=error_responses(Forbidden, Unprocessable),
)
def write_case_note(
    gate: RecordsWrite, participant_id: uuid.UUID, data: CaseNoteCreate, response: Response
) -> CaseNoteRead:
    """Write a case note in one data category; the caller's organisation is its source."""
    note = case_notes.write_note(gate, participant_id, data)
    response.headers["ETag"] = etag_for(case_notes.ETAG_KIND, note.version)
    return CaseNoteRead.model_validate(note)


@router.get("/{note_id}", response_model=CaseNoteRead, operation_id="readCaseNote")
def read_case_note(
    gate: RecordsRead, participant_id: uuid.UUID, note_id: uuid.UUID, response: Response
) -> CaseNoteRead:
    """One case note (404 when its category is withheld from the caller)."""
    note = case_notes.read_note(gate, participant_id, note_id)
    response.headers["ETag"] = etag_for(case_notes.ETAG_KIND, note.version)
    return CaseNoteRead.model_validate(note)


@router.patch(
    "/{note_id}",
    response_model=CaseNoteRead,
    operation_id="amendCaseNote",
    responses=error_responses(Forbidden, PreconditionFailed, PreconditionRequired, Unprocessable),
)
def amend_case_note(
    gate: RecordsWrite,
    participant_id: uuid.UUID,
    note_id: uuid.UUID,
    data: CaseNoteUpdate,
    response: Response,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> CaseNoteRead:
    """Amend a note (author's organisation; If-Match): a new version, the old one kept."""
    note = case_notes.amend_note(gate, participant_id, note_id, data, if_match)
    response.headers["ETag"] = etag_for(case_notes.ETAG_KIND, note.version)
    return CaseNoteRead.model_validate(note)


@router.get(
    "/{note_id}/versions", response_model=CaseNoteHistory, operation_id="listCaseNoteVersions"
)
def list_case_note_versions(
    gate: RecordsRead, participant_id: uuid.UUID, note_id: uuid.UUID
) -> CaseNoteHistory:
    """Every version of a note the caller may see, oldest first, with amendment reasons."""
    return case_notes.note_history(gate, participant_id, note_id)
