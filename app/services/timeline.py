"""The timeline: everything the caller may see about a participant, newest first.

The gate decides per (category, recording organisation) over grouped counts, so both the
visible entries (one UNION query, cursor-paged) and the withheld counts are answered in
SQL without loading records that are not shown.
"""

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import String, literal, union_all
from sqlmodel import col, select

from app.core.pagination import PageParams, paginate
from app.models.appointment import Appointment
from app.models.listing import RecordPage, WithheldCountRead
from app.models.plan import Action, Goal, Review
from app.models.risk import RiskAlert
from app.models.screening import Screening
from app.models.timeline import TimelineEntry
from app.services.record_pages import decide_sources
from app.sharing.categories import Category
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


# kind -> (table, time column, category, summary)
SOURCES: dict[str, tuple[Any, Any, Category, Callable[[Any], str]]] = {
    "goal": (Goal, Goal.created_at, Category.plan, _goal),
    "action": (Action, Action.created_at, Category.plan, _action),
    "review": (Review, Review.created_at, Category.plan, _review),
    "appointment": (Appointment, Appointment.starts_at, Category.appointments, _appointment),
    "risk_alert": (RiskAlert, RiskAlert.raised_at, Category.risk, _alert),
    "screening": (Screening, Screening.administered_at, Category.mental_health, _screening),
}


def _allowed_sources(
    gate: SharingGate, participant_id: uuid.UUID
) -> tuple[dict[str, list[uuid.UUID]], list[WithheldCountRead]]:
    """Per kind, the recording organisations the caller may see; counts of the rest."""
    allowed: dict[str, list[uuid.UUID]] = {}
    withheld: dict[tuple[str, str], int] = {}
    for kind, (model, _at, category, _summary) in SOURCES.items():
        allowed[kind], hidden = decide_sources(
            gate, participant_id, model, category, resource="timeline"
        )
        for item in hidden:
            key = (item.category, item.reason)
            withheld[key] = withheld.get(key, 0) + item.count
    counts = [
        WithheldCountRead(category=c, reason=r, count=n) for (c, r), n in sorted(withheld.items())
    ]
    return allowed, counts


def timeline(
    gate: SharingGate, participant_id: uuid.UUID, paging: PageParams
) -> RecordPage[TimelineEntry]:
    """One page of the participant's timeline as the caller may see it."""
    gate.participant(participant_id, resource="timeline")
    allowed, withheld = _allowed_sources(gate, participant_id)
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
        model = SOURCES[kind][0]
        ids = [r.id for r in rows if r.kind == kind]
        for record in gate.session.exec(select(model).where(col(model.id).in_(ids))):
            records[(kind, record.id)] = record
    for kind in {r.kind for r in rows}:  # the disclosure, with its basis, on the audit row
        _model, _at, category, _summary = SOURCES[kind]
        shown = [record for (k, _id), record in records.items() if k == kind]
        gate.filter_records(
            participant_id, shown, category, lambda r: r.source_org_id, resource="timeline"
        )
    items = []
    for row in rows:
        record = records[(row.kind, row.id)]
        _model, _at, category, summary = SOURCES[row.kind]
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
