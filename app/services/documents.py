"""Documents attached to case notes: uploaded by the note's organisation, read through the gate.

A document is a record of its uploading organisation in the category chosen for it; it is
shown only to a caller who may see both that category and the note it is attached to (a
document must not be a way round the note's category). Downloads are audited reads.
"""

import uuid
from collections.abc import Sequence

from sqlalchemy import and_, false, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.core.errors import AppError, Conflict, NotFound
from app.core.pagination import PageParams, paginate
from app.core.settings import get_settings
from app.models.documents import Document, DocumentContent, DocumentRead, ScanStatus
from app.models.listing import RecordPage, WithheldCountRead
from app.models.notes import CaseNote
from app.services import clamav
from app.services.document_types import safe_filename, sniff
from app.sharing import policy
from app.sharing.categories import Category
from app.sharing.gate import SharingGate

RESOURCE = "document"


class UnsupportedMediaType(AppError):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


def _note(
    gate: SharingGate,
    participant_id: uuid.UUID,
    note_id: uuid.UUID,
    action: str,
    resource_id: uuid.UUID | None = None,
) -> CaseNote:
    """The note a document hangs on, if the caller may see it (404 otherwise)."""
    note = gate.session.exec(
        select(CaseNote).where(CaseNote.id == note_id, CaseNote.participant_id == participant_id)
    ).first()
    if note is None:
        gate.deny(participant_id, action, RESOURCE, "no_such_record", resource_id=str(note_id))
        raise NotFound("No such record.")
    gate.require(
        participant_id,
        note.category,
        note.source_org_id,
        action=action,
        resource=RESOURCE,
        resource_id=str(resource_id or note.id),
    )
    return note


def _scan(content: bytes) -> tuple[ScanStatus, str | None]:
    settings = get_settings()
    if not settings.clamav_address:
        return ScanStatus.clean, None
    try:
        result = clamav.scan_bytes(
            settings.clamav_address, content, settings.clamav_timeout_seconds
        )
    except clamav.ScannerUnavailable:
        return ScanStatus.pending, "scanner unavailable"
    return (ScanStatus.clean, None) if result.clean else (ScanStatus.infected, result.detail)


def upload(
    gate: SharingGate,
    participant_id: uuid.UUID,
    note_id: uuid.UUID,
    category: Category | None,
    filename: str | None,
    content: bytes,
    sha256: str,
) -> Document:
    """Attach a file to a note (its author's organisation); refused unless its content is
    an allowed type that its name does not contradict."""
    gate.participant(participant_id, action="create", resource=RESOURCE)
    note = _note(gate, participant_id, note_id, "create")
    may = policy.may_attach_document(gate.actor, note_source_org_id=note.source_org_id)
    gate.authorize(may, "create", RESOURCE, participant_id, resource_id=str(note.id))
    media_type = sniff(content)
    if media_type is None:
        raise UnsupportedMediaType("Only PDF, PNG, JPEG and plain-text files are accepted.")
    name = safe_filename(filename, media_type)
    if name is None:
        raise UnsupportedMediaType(
            f"The file is {media_type.value} but its name says otherwise; rename it."
        )
    status, detail = _scan(content)
    document = Document(
        participant_id=participant_id,
        source_org_id=gate.caller.org_id,
        note_id=note.id,
        category=category or note.category,
        filename=name,
        media_type=media_type,
        size_bytes=len(content),
        sha256=sha256,
        scan_status=status,
        scan_detail=detail,
        uploaded_by=gate.caller.subject,
    )
    gate.session.add(document)
    gate.session.flush()
    gate.session.add(DocumentContent(document_id=document.id, content=content))
    gate.session.flush()
    gate.wrote(
        participant_id,
        sorted({document.category, note.category}),
        action="create",
        resource=RESOURCE,
        resource_id=str(document.id),
    )
    return document


def list_documents(
    gate: SharingGate, participant_id: uuid.UUID, paging: PageParams, note_id: uuid.UUID | None
) -> RecordPage[DocumentRead]:
    """Documents the caller may see (theirs and their note's category), newest first."""
    gate.participant(participant_id, action="list", resource=RESOURCE)
    groups = gate.connection.execute(
        sa_select(
            col(Document.source_org_id),
            col(Document.category),
            col(CaseNote.source_org_id),
            col(CaseNote.category),
            func.count(),
        )
        .join(CaseNote, col(CaseNote.id) == Document.note_id)
        .where(col(Document.participant_id) == participant_id)
        .group_by(
            col(Document.source_org_id),
            col(Document.category),
            col(CaseNote.source_org_id),
            col(CaseNote.category),
        )
    ).all()
    allowed = []
    hidden: dict[tuple[str, str], int] = {}
    denied: dict[str, list[uuid.UUID]] = {}
    for doc_src, doc_cat, note_src, note_cat, count in groups:
        refusal = None
        for src, cat in ((doc_src, doc_cat), (note_src, note_cat)):
            decision = gate.decide(participant_id, cat, src)
            if not decision.allowed and refusal is None:
                refusal = (str(cat), getattr(decision, "reason", "withheld"))
                denied.setdefault(str(cat), []).append(src)
        if refusal is None:
            allowed.append(
                and_(
                    col(Document.source_org_id) == doc_src,
                    col(Document.category) == doc_cat,
                    col(CaseNote.source_org_id) == note_src,
                    col(CaseNote.category) == note_cat,
                )
            )
        else:
            hidden[refusal] = hidden.get(refusal, 0) + int(count)
    filters = [or_(*allowed) if allowed else false()]
    if note_id is not None:
        filters.append(col(Document.note_id) == note_id)
    stmt = (
        select(Document)
        .join(CaseNote, col(CaseNote.id) == Document.note_id)
        .where(Document.participant_id == participant_id, *filters)
    )
    rows, cursor = paginate(
        gate.session, stmt, [Document.created_at, Document.id], paging, descending=True
    )
    _record(gate, participant_id, rows, denied)
    return RecordPage(
        items=[DocumentRead.model_validate(d) for d in rows],
        next_cursor=cursor,
        withheld=[
            WithheldCountRead(category=c, reason=r, count=n) for (c, r), n in sorted(hidden.items())
        ],
    )


def _record(
    gate: SharingGate,
    participant_id: uuid.UUID,
    rows: Sequence[Document],
    denied: dict[str, list[uuid.UUID]],
) -> None:
    """The audit of a list: the categories shown, or (nothing shown) those withheld."""
    for category in sorted({r.category for r in rows}):
        gate.filter_records(
            participant_id,
            [r for r in rows if r.category == category],
            category,
            lambda r: r.source_org_id,
            resource=RESOURCE,
            action="list",
        )
    if not rows:
        for denied_category, sources in sorted(denied.items()):
            gate.filter_records(
                participant_id,
                sources,
                Category(denied_category),
                lambda s: s,
                resource=RESOURCE,
                action="list",
            )


def download(
    gate: SharingGate, participant_id: uuid.UUID, document_id: uuid.UUID
) -> tuple[Document, bytes]:
    """A document's bytes: an audited read, only if its category and its note's are visible
    and it has been scanned clean."""
    gate.participant(participant_id, action="download", resource=RESOURCE)
    document = gate.session.exec(
        select(Document).where(
            Document.id == document_id, Document.participant_id == participant_id
        )
    ).first()
    if document is None:
        gate.deny(
            participant_id, "download", RESOURCE, "no_such_record", resource_id=str(document_id)
        )
        raise NotFound("No such record.")
    gate.require(
        participant_id,
        document.category,
        document.source_org_id,
        action="download",
        resource=RESOURCE,
        resource_id=str(document.id),
    )
    _note(gate, participant_id, document.note_id, "download", resource_id=document.id)
    if document.scan_status != ScanStatus.clean:
        raise Conflict(
            "The file is held until a virus scan finds it clean."
            if document.scan_status == ScanStatus.pending
            else "The file failed its virus scan and is never served."
        )
    content = gate.session.exec(
        select(DocumentContent.content).where(DocumentContent.document_id == document.id)
    ).one()
    return document, content


def rescan_pending(session: Session) -> dict[str, int]:
    """Scan the files held as pending (the scanner was unavailable when they arrived)."""
    counts = {"clean": 0, "infected": 0, "pending": 0}
    pending = session.exec(
        select(Document).where(Document.scan_status == ScanStatus.pending).with_for_update()
    ).all()
    for document in pending:
        content = session.exec(
            select(DocumentContent.content).where(DocumentContent.document_id == document.id)
        ).one()
        document.scan_status, document.scan_detail = _scan(content)
        session.add(document)
        counts[document.scan_status] += 1
    session.flush()
    return counts
