"""Case notes: written by an organisation's staff, each in one category, read through the gate.

A note is a record of its author's organisation in the category the author chose, so the
sharing decision is asked per (recording organisation, category). Lists decide over
grouped counts first and select only the allowed pairs in SQL; the withheld counts do not
depend on the kind/date filters (a filter must not tell how many hidden notes match).
An amendment writes a new version and keeps the old: an old version is shown only to a
caller who may see both the note's current category and the category it had then.
"""

import uuid
from datetime import date

from sqlalchemy import and_, false, func, or_
from sqlmodel import col, select

from app.core.errors import NotFound
from app.core.etags import check_if_match
from app.core.pagination import PageParams, paginate
from app.models.base import utcnow
from app.models.listing import RecordPage, WithheldCountRead
from app.models.notes import (
    CaseNote,
    CaseNoteCreate,
    CaseNoteHistory,
    CaseNoteRead,
    CaseNoteUpdate,
    CaseNoteVersion,
    CaseNoteVersionRead,
    NoteKind,
)
from app.sharing import policy
from app.sharing.categories import Category
from app.sharing.gate import SharingGate

RESOURCE = "case_note"
ETAG_KIND = "note"


def _version_row(note: CaseNote, written_by: str, reason: str | None) -> CaseNoteVersion:
    return CaseNoteVersion(
        note_id=note.id,
        version=note.version,
        kind=note.kind,
        category=note.category,
        occurred_on=note.occurred_on,
        text=note.text,
        written_by=written_by,
        written_at=note.updated_at,
        reason=reason,
    )


def write_note(gate: SharingGate, participant_id: uuid.UUID, data: CaseNoteCreate) -> CaseNote:
    """Write a case note; the caller's organisation is its source."""
    gate.participant(participant_id, action="create", resource=RESOURCE)
    gate.authorize(policy.may_write_case_note(gate.actor), "create", RESOURCE, participant_id)
    note = CaseNote(
        **data.model_dump(),
        participant_id=participant_id,
        source_org_id=gate.caller.org_id,
        author=gate.caller.subject,
    )
    gate.session.add(note)
    gate.session.flush()
    gate.session.add(_version_row(note, gate.caller.subject, None))
    gate.session.flush()
    gate.wrote(
        participant_id,
        [note.category],
        action="create",
        resource=RESOURCE,
        resource_id=str(note.id),
    )
    return note


def list_notes(
    gate: SharingGate,
    participant_id: uuid.UUID,
    paging: PageParams,
    *,
    kind: NoteKind | None = None,
    category: Category | None = None,
    occurred_from: date | None = None,
    occurred_to: date | None = None,
) -> RecordPage[CaseNoteRead]:
    """The notes the caller may see, newest first, and counts of the others by reason."""
    gate.participant(participant_id, action="list", resource=RESOURCE)
    groups = gate.session.exec(
        select(CaseNote.source_org_id, CaseNote.category, func.count())
        .where(CaseNote.participant_id == participant_id)
        .group_by(col(CaseNote.source_org_id), col(CaseNote.category))
    ).all()
    allowed: list[tuple[uuid.UUID, str]] = []
    hidden: dict[tuple[str, str], int] = {}
    hidden_groups: dict[str, list[uuid.UUID]] = {}
    for source_org_id, note_category, count in groups:
        decision = gate.decide(participant_id, note_category, source_org_id)
        if decision.allowed:
            allowed.append((source_org_id, str(note_category)))
        else:
            key = (str(note_category), getattr(decision, "reason", "withheld"))
            hidden[key] = hidden.get(key, 0) + int(count)
            hidden_groups.setdefault(str(note_category), []).append(source_org_id)
    shown_categories = {c for _, c in allowed}
    for hidden_category, sources in sorted(hidden_groups.items()):
        if hidden_category not in shown_categories:
            # The audit row says the category was withheld, and why.
            gate.filter_records(
                participant_id,
                sources,
                Category(hidden_category),
                lambda s: s,
                resource=RESOURCE,
                action="list",
            )
    pairs = [
        and_(col(CaseNote.source_org_id) == org, col(CaseNote.category) == c) for org, c in allowed
    ]
    filters = [or_(*pairs) if pairs else false()]
    if kind is not None:
        filters.append(col(CaseNote.kind) == kind)
    if category is not None:
        filters.append(col(CaseNote.category) == category)
    if occurred_from is not None:
        filters.append(col(CaseNote.occurred_on) >= occurred_from)
    if occurred_to is not None:
        filters.append(col(CaseNote.occurred_on) <= occurred_to)
    stmt = select(CaseNote).where(CaseNote.participant_id == participant_id, *filters)
    rows, cursor = paginate(
        gate.session, stmt, [CaseNote.occurred_on, CaseNote.id], paging, descending=True
    )
    shown: list[CaseNote] = []
    for row_category in sorted({r.category for r in rows}):
        kept, _ = gate.filter_records(
            participant_id,
            [r for r in rows if r.category == row_category],
            row_category,
            lambda r: r.source_org_id,
            resource=RESOURCE,
            action="list",
        )
        shown.extend(kept)
    order = {r.id: i for i, r in enumerate(rows)}
    shown.sort(key=lambda r: order[r.id])
    withheld = [
        WithheldCountRead(category=c, reason=reason, count=n)
        for (c, reason), n in sorted(hidden.items())
    ]
    return RecordPage(
        items=[CaseNoteRead.model_validate(n) for n in shown], next_cursor=cursor, withheld=withheld
    )


def _note(
    gate: SharingGate, participant_id: uuid.UUID, note_id: uuid.UUID, action: str, lock: bool
) -> CaseNote:
    """The note if the caller may see it; 404 otherwise (it does not exist for them)."""
    gate.participant(participant_id, action=action, resource=RESOURCE)
    stmt = select(CaseNote).where(CaseNote.id == note_id, CaseNote.participant_id == participant_id)
    note = gate.session.exec(stmt.with_for_update() if lock else stmt).first()
    if note is None:
        gate.deny(participant_id, action, RESOURCE, "no_such_record", resource_id=str(note_id))
        raise NotFound("No such record.")
    gate.require(
        participant_id,
        note.category,
        note.source_org_id,
        action=action,
        resource=RESOURCE,
        resource_id=str(note.id),
    )
    return note


def read_note(gate: SharingGate, participant_id: uuid.UUID, note_id: uuid.UUID) -> CaseNote:
    """One note, if the caller may see its category from its author's organisation."""
    return _note(gate, participant_id, note_id, "read", lock=False)


def amend_note(
    gate: SharingGate,
    participant_id: uuid.UUID,
    note_id: uuid.UUID,
    data: CaseNoteUpdate,
    if_match: str | None,
) -> CaseNote:
    """Amend a note (its author's organisation only): a new version; the old one is kept."""
    note = _note(gate, participant_id, note_id, "update", lock=True)
    may = policy.may_amend_case_note(gate.actor, source_org_id=note.source_org_id)
    gate.authorize(may, "update", RESOURCE, participant_id, resource_id=str(note.id))
    check_if_match(if_match, ETAG_KIND, note.version)
    before = note.category
    for name in ("kind", "category", "occurred_on", "text"):
        value = getattr(data, name)
        if value is not None:
            setattr(note, name, value)
    note.version += 1
    note.updated_at = utcnow()
    gate.session.add(note)
    gate.session.add(_version_row(note, gate.caller.subject, data.reason))
    gate.session.flush()
    gate.wrote(
        participant_id,
        sorted({before, note.category}),
        action="update",
        resource=RESOURCE,
        resource_id=str(note.id),
    )
    return note


def note_history(
    gate: SharingGate, participant_id: uuid.UUID, note_id: uuid.UUID
) -> CaseNoteHistory:
    """Every version of a note the caller may see, oldest first."""
    note = _note(gate, participant_id, note_id, "read", lock=False)
    versions = gate.session.exec(
        select(CaseNoteVersion)
        .where(CaseNoteVersion.note_id == note.id)
        .order_by(col(CaseNoteVersion.version))
    ).all()
    shown_ids: set[uuid.UUID] = set()
    withheld: list[WithheldCountRead] = []
    for version_category in sorted({v.category for v in versions}):
        kept, counts = gate.filter_records(
            participant_id,
            [v for v in versions if v.category == version_category],
            version_category,
            lambda v: note.source_org_id,
            resource=RESOURCE,
            action="read",
        )
        shown_ids |= {v.id for v in kept}
        withheld += [
            WithheldCountRead(category=w.category, reason=w.reason, count=w.count) for w in counts
        ]
    return CaseNoteHistory(
        note_id=note.id,
        items=[CaseNoteVersionRead.model_validate(v) for v in versions if v.id in shown_ids],
        withheld=withheld,
    )
