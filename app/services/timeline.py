"""The timeline: everything the caller may see about a participant, newest first.

The gate decides per (category, recording organisation) over grouped counts, so both the
visible entries (one UNION query, cursor-paged) and the withheld counts are answered in
SQL without loading records that are not shown.
"""

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    String,
    and_,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    union_all,
)
from sqlalchemy import select as core_select
from sqlmodel import col, select

from app.core.pagination import PageParams, paginate
from app.models.appointment import Appointment
from app.models.listing import RecordPage, WithheldCountRead
from app.models.notes import CaseNote
from app.models.plan import Action, Goal, Review
from app.models.risk import RiskAlert
from app.models.screening import Screening
from app.models.timeline import TimelineEntry
from app.services.record_pages import decide_groups
from app.sharing.categories import Category
from app.sharing.fastsql import Prepared
from app.sharing.gate import SharingGate


def _goal(g: Any) -> str:
    return f"Goal ({g.life_domain}, {g.horizon}, {g.status}): {g.title}"


def _action(a: Any) -> str:
    return f"Step ({a.status}): {a.description}"


def _review(r: Any) -> str:
    return f"Plan review held {r.held_on} (plan version {r.plan_version})"


def _appointment(a: Any) -> str:
    return f"Appointment ({a.kind}): {a.attendance or 'booked'}"


def _alert(a: Any) -> str:
    return f"Risk alert: {a.kind}, {a.level} ({a.status})"


def _screening(s: Any) -> str:
    return f"{s.instrument}: {s.total} ({s.severity})"


NOTE_EXCERPT = 200


def _case_note(n: Any) -> str:
    text = n.text if len(n.text) <= NOTE_EXCERPT else n.text[: NOTE_EXCERPT - 1] + "…"
    return f"Note ({n.kind.replace('_', ' ')}, {n.occurred_on}): {text}"


# kind -> (table, time column, category, summary)
SOURCES: dict[str, tuple[Any, Any, Category, Callable[[Any], str]]] = {
    "goal": (Goal, Goal.created_at, Category.plan, _goal),
    "action": (Action, Action.created_at, Category.plan, _action),
    "review": (Review, Review.created_at, Category.plan, _review),
    "appointment": (Appointment, Appointment.starts_at, Category.appointments, _appointment),
    "risk_alert": (RiskAlert, RiskAlert.raised_at, Category.risk, _alert),
    "screening": (Screening, Screening.administered_at, Category.mental_health, _screening),
}


def _groups_branch(kind: str, model: Any, with_category: bool) -> Any:
    table = model.__table__
    category = table.c.category if with_category else cast(null(), String(40))
    stmt = core_select(
        literal_column(f"'{kind}'", String()).label("kind"),
        table.c.source_org_id,
        category.label("category"),
        func.count().label("n"),
    ).where(table.c.participant_id == bindparam("p", type_=table.c.participant_id.type))
    if with_category:
        return stmt.group_by(table.c.source_org_id, table.c.category)
    return stmt.group_by(table.c.source_org_id)


# The grouped counts of every kind (case notes also by category) in one statement, compiled
# once (app/sharing/fastsql.py): one round trip instead of seven. The case-note branch is
# first: it fixes the `category` column's type (the other branches' are NULL).
GROUPS_SQL = Prepared(
    union_all(
        _groups_branch("case_note", CaseNote, True),
        *(_groups_branch(kind, model, False) for kind, (model, *_rest) in SOURCES.items()),
    )
)


def _grouped_counts(
    gate: SharingGate, participant_id: uuid.UUID
) -> dict[str, list[tuple[Any, ...]]]:
    """Per kind, the (recording organisation, [category,] count) groups of the records."""
    groups: dict[str, list[tuple[Any, ...]]] = {"case_note": [], **{k: [] for k in SOURCES}}
    for kind, source_org_id, category, count in GROUPS_SQL.run(
        gate.connection, {"p": participant_id}
    ):
        groups[kind].append(
            (source_org_id, category, count) if kind == "case_note" else (source_org_id, count)
        )
    # Every recording organisation's kind in one lookup (the decisions below need them).
    gate.prefetch([participant_id], {g[0] for found in groups.values() for g in found})
    return groups


def _allowed_notes(
    gate: SharingGate,
    participant_id: uuid.UUID,
    groups: list[tuple[Any, ...]],
    withheld: dict[tuple[str, str], int],
) -> Any:
    """Case notes are each in the category their author chose: the filter of the notes the
    caller may see, decided once per (organisation, category); the rest counted."""
    allowed = []
    shown_categories: set[Category] = set()
    hidden: dict[Category, list[uuid.UUID]] = {}
    for source_org_id, category, count in groups:
        decision = gate.decide(participant_id, category, source_org_id)
        if decision.allowed:
            shown_categories.add(Category(category))
            allowed.append(
                and_(
                    col(CaseNote.source_org_id) == source_org_id,
                    col(CaseNote.category) == category,
                )
            )
        else:
            key = (str(category), getattr(decision, "reason", "withheld"))
            withheld[key] = withheld.get(key, 0) + int(count)
            hidden.setdefault(Category(category), []).append(source_org_id)
    # Notes of a category none of which is shown: the audit row says it was withheld.
    for category, sources in sorted(hidden.items()):
        if category not in shown_categories:
            gate.filter_records(
                participant_id,
                sources,
                category,
                lambda s: s,
                resource="timeline",
                action="list",
            )
    return or_(*allowed) if allowed else None


def _allowed_sources(
    gate: SharingGate,
    participant_id: uuid.UUID,
    groups: dict[str, list[tuple[Any, ...]]],
    withheld: dict[tuple[str, str], int],
) -> tuple[dict[str, list[uuid.UUID]], list[WithheldCountRead]]:
    """Per kind, the recording organisations the caller may see; counts of the rest."""
    allowed: dict[str, list[uuid.UUID]] = {}
    for kind, (_model, _at, category, _summary) in SOURCES.items():
        allowed[kind], hidden = decide_groups(
            gate,
            participant_id,
            [(g[0], g[1]) for g in groups[kind]],
            category,
            resource="timeline",
        )
        for item in hidden:
            key = (item.category, item.reason)
            withheld[key] = withheld.get(key, 0) + item.count
    counts = [
        WithheldCountRead(category=c, reason=r, count=n) for (c, r), n in sorted(withheld.items())
    ]
    return allowed, counts


def _category(kind: str, record: Any) -> Category:
    """A record's category: fixed per kind, except a case note's (its author's choice)."""
    return Category(record.category) if kind == "case_note" else SOURCES[kind][2]


def timeline(
    gate: SharingGate, participant_id: uuid.UUID, paging: PageParams
) -> RecordPage[TimelineEntry]:
    """One page of the participant's timeline as the caller may see it."""
    gate.participant_snapshot(participant_id, resource="timeline")  # 404 unless visible
    hidden: dict[tuple[str, str], int] = {}
    groups = _grouped_counts(gate, participant_id)
    notes_filter = _allowed_notes(gate, participant_id, groups["case_note"], hidden)
    allowed, withheld = _allowed_sources(gate, participant_id, groups, hidden)
    parts: list[Any] = [
        select(
            literal(kind, type_=String).label("kind"),
            col(model.id).label("id"),
            col(at).label("at"),
        ).where(
            model.participant_id == participant_id,
            col(model.source_org_id).in_(allowed[kind]),
        )
        for kind, (model, at, _category, _summary) in SOURCES.items()
        if allowed[kind]
    ]
    if notes_filter is not None:
        parts.append(
            select(
                literal("case_note", type_=String).label("kind"),
                col(CaseNote.id).label("id"),
                col(CaseNote.created_at).label("at"),
            ).where(CaseNote.participant_id == participant_id, notes_filter)
        )
    if not parts:
        return RecordPage(items=[], next_cursor=None, withheld=withheld)
    entries = union_all(*parts).subquery("timeline")
    rows, cursor = paginate(
        gate.session,
        select(entries.c.kind, entries.c.id, entries.c.at),
        [entries.c.at, entries.c.kind, entries.c.id],
        paging,
        descending=True,
    )
    records: dict[tuple[str, uuid.UUID], Any] = {}
    for kind in {r.kind for r in rows}:
        model = CaseNote if kind == "case_note" else SOURCES[kind][0]
        ids = [r.id for r in rows if r.kind == kind]
        for record in gate.session.exec(select(model).where(col(model.id).in_(ids))):
            records[(kind, record.id)] = record
    for kind in {r.kind for r in rows}:  # the disclosure, with its basis, on the audit row
        shown = [record for (k, _id), record in records.items() if k == kind]
        for category in sorted({_category(kind, r) for r in shown}):
            gate.filter_records(
                participant_id,
                [r for r in shown if _category(kind, r) == category],
                category,
                lambda r: r.source_org_id,
                resource="timeline",
            )
    items = []
    for row in rows:
        record = records[(row.kind, row.id)]
        category = _category(row.kind, record)
        summary = _case_note if row.kind == "case_note" else SOURCES[row.kind][3]
        items.append(
            TimelineEntry(
                kind=row.kind,
                id=row.id,
                at=row.at,
                category=str(category),
                source_org_id=record.source_org_id,
                summary=summary(record),
            )
        )
    return RecordPage(items=items, next_cursor=cursor, withheld=withheld)
