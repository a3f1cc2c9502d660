"""Documents attached to case notes or referrals, read through the gate.

A document is a record of its uploading organisation in the category chosen for it; it is
shown only to a caller who may see both that category and the record it is attached to (a
document must not be a way round the note's category or the referral's visibility): for a
note, the note's category from the note's organisation; for a referral, the full view of
the referral (app/sharing/visibility.py: its parties, or the sharing decision for
`referrals`). Downloads are audited reads.

A note's files are attached by the note's organisation. A referral's files (a referral
letter, licence conditions) are attached by either party while the referral is open, in
`referrals` or in one of the categories attached to the referral (those are what its
recipient may receive).
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, false, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.core.errors import AppError, Conflict, NotFound, Unprocessable
from app.core.pagination import PageParams, paginate
from app.core.settings import get_settings
from app.models.documents import Document, DocumentContent, DocumentRead, ScanStatus
from app.models.listing import RecordPage, WithheldCountRead
from app.models.notes import CaseNote
from app.models.referral import Referral, ReferralStatus
from app.services import clamav
from app.services.document_types import safe_filename, sniff
from app.services.referrals import record_sight, referral_seen
from app.sharing import policy
from app.sharing.categories import Category
from app.sharing.decision import Decision, Deny
from app.sharing.facts import caller_facts
from app.sharing.gate import SharingGate
from app.sharing.visibility import ReferralParties, ReferralSight, covered_by_referral

RESOURCE = "document"
OPEN_REFERRAL = frozenset(
    {
        ReferralStatus.draft,
        ReferralStatus.submitted,
        ReferralStatus.accepted,
        ReferralStatus.in_progress,
    }
)


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


def _referral(
    gate: SharingGate,
    participant_id: uuid.UUID,
    referral_id: uuid.UUID,
    action: str,
    resource_id: uuid.UUID | None = None,
) -> Referral:
    """The referral a document hangs on, if the caller has its full view (404 otherwise,
    with a denial row); the sight is recorded like a referral read."""
    referral = gate.session.exec(
        select(Referral).where(
            Referral.id == referral_id, Referral.participant_id == participant_id
        )
    ).first()
    seen = None if referral is None else referral_seen(gate, referral)
    if referral is None or seen is None or seen.sight != ReferralSight.full:
        reason = "no_such_record" if referral is None else "not_visible"
        gate.deny(
            participant_id, action, RESOURCE, reason, resource_id=str(resource_id or referral_id)
        )
        raise NotFound("No such record.")
    record_sight(
        gate,
        referral,
        seen,
        action=action,
        record_id=True,
        resource=RESOURCE,
        resource_id=str(resource_id or referral.id),
    )
    return referral


def _visible_referrals(
    gate: SharingGate, referral_ids: set[uuid.UUID]
) -> dict[uuid.UUID, Referral]:
    """Of these referrals, those the caller has the full view of (nothing recorded)."""
    if not referral_ids:
        return {}
    rows = gate.session.exec(select(Referral).where(col(Referral.id).in_(referral_ids))).all()
    visible = {}
    for referral in rows:
        seen = referral_seen(gate, referral)
        if seen is not None and seen.sight == ReferralSight.full:
            visible[referral.id] = referral
    return visible


def _covered(gate: SharingGate, referral: Referral, category: Category) -> bool:
    """`covered_by_referral` (app/sharing/visibility.py) for this caller."""
    return covered_by_referral(caller_facts(gate.caller), ReferralParties.of(referral), category)


@dataclass
class _Sorting:
    """A list's groups of documents sorted into shown and withheld: the SQL clauses of the
    groups shown, the counts withheld by (category, reason), and for the audit the reason
    each withheld category was refused for. Each (source, category) is decided once."""

    gate: SharingGate
    participant_id: uuid.UUID
    shown: list[ColumnElement[bool]] = field(default_factory=list)
    hidden: dict[tuple[str, str], int] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    _decisions: dict[tuple[uuid.UUID, str], Decision] = field(default_factory=dict)

    def refusal(self, *asks: tuple[uuid.UUID, Category]) -> tuple[str, str] | None:
        """The first (category, reason) the decision refuses of these (source, category)."""
        for source, category in asks:
            key = (source, str(category))
            if key not in self._decisions:
                self._decisions[key] = self.gate.decide(self.participant_id, category, source)
            decision = self._decisions[key]
            if isinstance(decision, Deny):
                return str(category), decision.reason
        return None

    def sort(self, group: ColumnElement[bool], count: int, refusal: tuple[str, str] | None) -> None:
        """Show the group, or count it withheld for its refusal."""
        if refusal is None:
            self.shown.append(group)
            return
        self.hidden[refusal] = self.hidden.get(refusal, 0) + int(count)
        category, reason = refusal
        self.refused[category] = min(reason, self.refused.get(category, reason))


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
    parent: tuple[uuid.UUID | None, uuid.UUID | None],
    category: Category | None,
    filename: str | None,
    content: bytes,
    sha256: str,
) -> Document:
    """Attach a file to a note (its author's organisation) or to a referral (either party,
    while open); refused unless its content is an allowed type that its name does not
    contradict. `parent` is (note_id, referral_id), exactly one given."""
    note_id, referral_id = parent
    if (note_id is None) == (referral_id is None):
        raise Unprocessable("Give note_id or referral_id (exactly one).")
    gate.participant(participant_id, action="create", resource=RESOURCE)
    parent_categories: list[Category]
    if note_id is not None:
        note = _note(gate, participant_id, note_id, "create")
        may = policy.may_attach_document(gate.actor, note_source_org_id=note.source_org_id)
        gate.authorize(may, "create", RESOURCE, participant_id, resource_id=str(note.id))
        category = category or note.category
        parent_categories = [note.category]
    else:
        assert referral_id is not None
        referral = _referral(gate, participant_id, referral_id, "create")
        may = policy.may_attach_referral_document(
            gate.actor, from_org_id=referral.from_org_id, to_org_id=referral.to_org_id
        )
        gate.authorize(may, "create", RESOURCE, participant_id, resource_id=str(referral.id))
        if referral.status not in OPEN_REFERRAL:
            raise Conflict(f"A referral that is {referral.status} takes no more documents.")
        category = category or Category.referrals
        if category != Category.referrals and category not in referral.categories:
            raise Unprocessable(
                "A referral's document is in `referrals` or in a category attached to the "
                "referral (amend the referral to attach another first)."
            )
        parent_categories = [Category.referrals]
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
        note_id=note_id,
        referral_id=referral_id,
        category=category,
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
        sorted({document.category, *parent_categories}),
        action="create",
        resource=RESOURCE,
        resource_id=str(document.id),
    )
    return document


def _sort_groups(
    gate: SharingGate, participant_id: uuid.UUID
) -> tuple[_Sorting, dict[uuid.UUID, Referral]]:
    """The person's documents by group (source, category and parent), sorted into shown
    and withheld; and the referrals of theirs the caller has the full view of."""
    note_groups = gate.connection.execute(
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
    referral_groups = gate.connection.execute(
        sa_select(
            col(Document.source_org_id),
            col(Document.category),
            col(Document.referral_id),
            func.count(),
        )
        .where(
            col(Document.participant_id) == participant_id, col(Document.referral_id).is_not(None)
        )
        .group_by(col(Document.source_org_id), col(Document.category), col(Document.referral_id))
    ).all()
    groups = _Sorting(gate, participant_id)
    for doc_src, doc_cat, note_src, note_cat, count in note_groups:
        groups.sort(
            and_(
                col(Document.source_org_id) == doc_src,
                col(Document.category) == doc_cat,
                col(CaseNote.source_org_id) == note_src,
                col(CaseNote.category) == note_cat,
            ),
            count,
            groups.refusal((doc_src, doc_cat), (note_src, note_cat)),
        )
    visible_referrals = _visible_referrals(gate, {row[2] for row in referral_groups if row[2]})
    for doc_src, doc_cat, ref_id, count in referral_groups:
        referral = visible_referrals.get(ref_id) if ref_id else None
        refusal: tuple[str, str] | None = None
        if referral is None:
            refusal = (str(Category.referrals), "not_visible")
        elif not _covered(gate, referral, doc_cat):
            refusal = groups.refusal((doc_src, doc_cat))
        groups.sort(
            and_(
                col(Document.source_org_id) == doc_src,
                col(Document.category) == doc_cat,
                col(Document.referral_id) == ref_id,
            ),
            count,
            refusal,
        )
    return groups, visible_referrals


def list_documents(
    gate: SharingGate,
    participant_id: uuid.UUID,
    paging: PageParams,
    note_id: uuid.UUID | None,
    referral_id: uuid.UUID | None = None,
) -> RecordPage[DocumentRead]:
    """Documents the caller may see (their category, and their note's category or their
    referral's full view), newest first."""
    gate.participant(participant_id, action="list", resource=RESOURCE)
    groups, visible_referrals = _sort_groups(gate, participant_id)
    filters = [or_(*groups.shown) if groups.shown else false()]
    if note_id is not None:
        filters.append(col(Document.note_id) == note_id)
    if referral_id is not None:
        filters.append(col(Document.referral_id) == referral_id)
    stmt = (
        select(Document)
        .outerjoin(CaseNote, col(CaseNote.id) == Document.note_id)
        .where(Document.participant_id == participant_id, *filters)
    )
    rows, cursor = paginate(
        gate.session, stmt, [Document.created_at, Document.id], paging, descending=True
    )
    covered = {
        r.id
        for r in rows
        if r.referral_id is not None
        and _covered(gate, visible_referrals[r.referral_id], r.category)
    }
    _record(gate, participant_id, rows, groups.refused, covered)
    return RecordPage(
        items=[DocumentRead.model_validate(d) for d in rows],
        next_cursor=cursor,
        withheld=[
            WithheldCountRead(category=c, reason=r, count=n)
            for (c, r), n in sorted(groups.hidden.items())
        ],
    )


def _record(
    gate: SharingGate,
    participant_id: uuid.UUID,
    rows: Sequence[Document],
    refused: dict[str, str],
    covered: set[uuid.UUID],
) -> None:
    """The audit of a list: the categories shown, or (nothing shown) those withheld, each
    with the reason it was refused for. A party's `referrals` documents are disclosed with
    their referral's own basis."""
    decided = [r for r in rows if r.id not in covered]
    for category in sorted({r.category for r in decided}):
        gate.filter_records(
            participant_id,
            [r for r in decided if r.category == category],
            category,
            lambda r: r.source_org_id,
            resource=RESOURCE,
            action="list",
        )
    shown_referrals = {r.referral_id for r in rows if r.referral_id is not None}
    for referral in (
        gate.session.exec(select(Referral).where(col(Referral.id).in_(shown_referrals))).all()
        if shown_referrals
        else []
    ):
        seen = referral_seen(gate, referral)
        if seen is not None:
            record_sight(gate, referral, seen, action="list", record_id=False, resource=RESOURCE)
    if not rows:
        for withheld, reason in sorted(refused.items()):
            gate.withheld(participant_id, withheld, reason, action="list", resource=RESOURCE)


def download(
    gate: SharingGate, participant_id: uuid.UUID, document_id: uuid.UUID
) -> tuple[Document, bytes]:
    """A document's bytes: an audited read, only if its category and its note's (or its
    referral) are visible and it has been scanned clean."""
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
    if document.note_id is not None:
        gate.require(
            participant_id,
            document.category,
            document.source_org_id,
            action="download",
            resource=RESOURCE,
            resource_id=str(document.id),
        )
        _note(gate, participant_id, document.note_id, "download", resource_id=document.id)
    else:
        assert document.referral_id is not None  # one parent (ck_documents_one_parent)
        referral = _referral(gate, participant_id, document.referral_id, "download", document.id)
        if not _covered(gate, referral, document.category):
            gate.require(
                participant_id,
                document.category,
                document.source_org_id,
                action="download",
                resource=RESOURCE,
                resource_id=str(document.id),
            )
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
