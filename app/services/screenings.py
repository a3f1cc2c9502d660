"""Screenings: scored here from item responses; read through the sharing gate."""

import uuid

from sqlmodel import col, select

from app.core.errors import Unprocessable
from app.core.pagination import PageParams
from app.models.listing import RecordPage
from app.models.screening import (
    Instrument,
    Screening,
    ScreeningCreate,
    ScreeningRead,
    ScreeningTrend,
    TrendPoint,
)
from app.services.record_pages import decide_sources, gated_record_page
from app.services.scoring import score
from app.sharing import policy
from app.sharing.categories import Category
from app.sharing.gate import SharingGate

TREND_LIMIT = 200


def _source(s: Screening) -> uuid.UUID:
    return s.source_org_id


def list_screenings(
    gate: SharingGate,
    participant_id: uuid.UUID,
    paging: PageParams,
    instrument: Instrument | None = None,
) -> RecordPage[ScreeningRead]:
    """The participant's screenings the caller may see, newest first."""
    gate.participant(participant_id, action="list", resource="screening")
    filters = [] if instrument is None else [Screening.instrument == instrument]
    shown, cursor, withheld = gated_record_page(
        gate,
        participant_id,
        Screening,
        Category.mental_health,
        [Screening.administered_at, Screening.id],
        paging,
        resource="screening",
        filters=filters,
    )
    return RecordPage(
        items=[ScreeningRead.model_validate(s) for s in shown],
        next_cursor=cursor,
        withheld=withheld,
    )


def record_screening(
    gate: SharingGate, participant_id: uuid.UUID, data: ScreeningCreate
) -> ScreeningRead:
    """Record a screening; the server computes its total and severity band."""
    gate.participant(participant_id, action="create", resource="screening")
    staff = policy.may_do_staff_work(gate.actor, policy.Work.record_screening)
    gate.authorize(staff, "create", "screening", participant_id)
    administered_at = data.administered_at or gate.now
    if administered_at > gate.now:
        raise Unprocessable("administered_at is in the future.")
    total, severity = score(data.instrument, data.responses)
    screening = Screening(
        participant_id=participant_id,
        source_org_id=gate.caller.org_id,
        instrument=data.instrument,
        responses=list(data.responses),
        total=total,
        severity=severity,
        administered_at=administered_at,
        administered_by=gate.caller.subject,
        notes=data.notes,
    )
    gate.session.add(screening)
    gate.session.flush()
    gate.wrote(
        participant_id,
        [Category.mental_health],
        action="create",
        resource="screening",
        resource_id=str(screening.id),
    )
    return ScreeningRead.model_validate(screening)


def trend(gate: SharingGate, participant_id: uuid.UUID, instrument: Instrument) -> ScreeningTrend:
    """The series of totals for one instrument, oldest first (the latest 200)."""
    gate.participant(participant_id, action="read", resource="screening_trend")
    # Withheld counts are over all of the participant's screenings, decided per recording
    # organisation before the instrument filter: the counts must not tell which
    # instruments the hidden screenings used.
    allowed, withheld = decide_sources(
        gate, participant_id, Screening, Category.mental_health, resource="screening_trend"
    )
    rows = list(
        gate.session.exec(
            select(Screening)
            .where(
                Screening.participant_id == participant_id,
                Screening.instrument == instrument,
                col(Screening.source_org_id).in_(allowed),
            )
            .order_by(col(Screening.administered_at).desc(), col(Screening.id).desc())
            .limit(TREND_LIMIT)
        ).all()
    )
    shown, _ = gate.filter_records(
        participant_id,
        rows[::-1],
        Category.mental_health,
        _source,
        resource="screening_trend",
    )
    return ScreeningTrend(
        participant_id=participant_id,
        instrument=instrument,
        points=[
            TrendPoint(
                screening_id=s.id,
                administered_at=s.administered_at,
                total=s.total,
                severity=s.severity,
            )
            for s in shown
        ],
        withheld=withheld,
    )
