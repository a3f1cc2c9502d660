"""Documents on case notes and referrals: upload (streamed, size-limited), list, download."""

import hashlib
import uuid
from dataclasses import dataclass
from email.message import Message
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from app.auth.guards import AUTH_ERRORS
from app.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unprocessable,
    error_responses,
)
from app.core.pagination import Paging
from app.core.settings import get_settings
from app.models.documents import DocumentRead
from app.models.listing import RecordPage
from app.services import documents
from app.sharing.categories import Category
from app.sharing.deps import RecordsRead, RecordsWrite

router = APIRouter(
    prefix="/api/v1/participants/{participant_id}/documents",
    tags=["documents"],
    responses={**AUTH_ERRORS, **error_responses(NotFound)},
)
UPLOAD_PATH = r"/api/v1/participants/[^/]+/documents"


@dataclass(frozen=True)
class Upload:
    content: bytes
    sha256: str


async def streamed_body(request: Request) -> Upload:
    """The request body, read in chunks and refused (413) as soon as it passes the limit."""
    limit = get_settings().document_max_bytes
    digest = hashlib.sha256()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Documents may be at most {limit} bytes.")
        digest.update(chunk)
        chunks.append(chunk)
    if size == 0:
        raise Unprocessable("The file is empty.")
    return Upload(b"".join(chunks), digest.hexdigest())


def _filename(content_disposition: str | None) -> str | None:
    if not content_disposition:
        return None
    message = Message()
    message["content-disposition"] = content_disposition
    name = message.get_filename()
    return str(name) if name else None


@router.post(
    "",
    response_model=DocumentRead,
    status_code=status.HTTP_201_CREATED,
    operation_id="uploadDocument",
    responses={
        **error_responses(Forbidden, Conflict, PayloadTooLarge, Unprocessable),
        415: {"description": "The content is not an allowed type, or its name claims another."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
def upload_document(
    gate: RecordsWrite,
    participant_id: uuid.UUID,
    upload: Annotated[Upload, Depends(streamed_body)],
    note_id: Annotated[
        uuid.UUID | None, Query(description="The case note to attach the file to.")
    ] = None,
    referral_id: Annotated[
        uuid.UUID | None, Query(description="The referral to attach the file to (or note_id).")
    ] = None,
    category: Category | None = None,
    content_disposition: Annotated[
        str | None,
        Header(
            alias="Content-Disposition",
            max_length=500,
            description='The file name: `attachment; filename="letter.pdf"` (kept out of URLs).',
        ),
    ] = None,
) -> DocumentRead:
    """Attach a file to a case note or a referral (raw body; exactly one of `note_id` and
    `referral_id`): PDF, PNG, JPEG or plain text, by content. A referral's file is attached
    by either party while it is open, in `referrals` (the default) or a category attached to
    the referral."""
    document = documents.upload(
        gate,
        participant_id,
        (note_id, referral_id),
        category,
        _filename(content_disposition),
        upload.content,
        upload.sha256,
    )
    return DocumentRead.model_validate(document)


@router.get("", response_model=RecordPage[DocumentRead], operation_id="listDocuments")
def list_documents(
    gate: RecordsRead,
    participant_id: uuid.UUID,
    paging: Paging,
    note_id: Annotated[uuid.UUID | None, Query(description="Only this note's files.")] = None,
    referral_id: Annotated[
        uuid.UUID | None, Query(description="Only this referral's files.")
    ] = None,
) -> RecordPage[DocumentRead]:
    """Documents the caller may see (their category, and their note's category or their
    referral), newest first."""
    return documents.list_documents(gate, participant_id, paging, note_id, referral_id)


@router.get(
    "/{document_id}/content",
    operation_id="downloadDocument",
    response_class=Response,
    responses={
        200: {
            "content": {t: {} for t in ("application/pdf", "image/png", "image/jpeg", "text/plain")}
        },
        **error_responses(Conflict),
    },
)
def download_document(
    gate: RecordsRead, participant_id: uuid.UUID, document_id: uuid.UUID
) -> Response:
    """The file itself: an audited read (409 while held for, or after failing, a virus scan)."""
    document, content = documents.download(gate, participant_id, document_id)
    return Response(
        content=content,
        media_type=str(document.media_type),
        headers={
            "Content-Disposition": f'attachment; filename="{document.filename}"',
            "X-Content-Type-Options": "nosniff",
            "ETag": f'"{document.sha256}"',
            "Cache-Control": "no-store",
        },
    )
