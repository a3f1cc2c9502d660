"""Inbox and outbox: the referrals addressed to, or sent by, the caller's organisation.

Filters on the participant's custody (`phase`, and the release-date part of `overdue`)
answer only from custody the caller may see. The participant's phase and release date
are custody information, and a receiver with a referral-only relationship sees custody
only when it is attached to the referral (and the decision allows it); otherwise a
filter or flag would tell it what the record withholds. So:

  - `phase=X` matches a referral only when its participant is in phase X *and* the
    caller may see the participant's custody; referrals whose custody is withheld never
    match a phase filter (in either direction: they are in no phase for the caller);
  - `overdue` (flag and filter) uses the release date only when custody is visible;
    otherwise only the time-since-submission part (referral data) counts.

SQL narrows by relationship and by the whole condition (a superset); the gate decides
custody per row, and pages are filled by scanning on from the cursor until `limit`
matching rows are found (app/services/filtered_pages.py), so a page and its cursor look
exactly as if the withheld rows had never matched.
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlmodel import col, select

from app.core.pagination import PageParams, paginate
from app.models.participant import Participant, Phase
from app.models.referral import Referral, ReferralStatus, Urgency
from app.services.filtered_pages import paginate_kept
from app.services.referral_overdue import is_overdue, late_reply_clause, overdue_clause
from app.services.referrals import (
    RESOURCE,
    custody_visible,
    record_sight,
    referral_seen,
    referral_view,
    visible_release_date,
)
from app.sharing.categories import Category
from app.sharing.decision import Allow
from app.sharing.gate import SharingGate
from app.sharing.visibility import ReferralSight, referral_visibility_clause

_KEYS: list[Any] = [Referral.created_at, Referral.id]


class Box(StrEnum):
    inbox = "inbox"
    outbox = "outbox"


@dataclass(frozen=True)
class BoxFilter:
    box: Box
    status: ReferralStatus | None = None
    urgency: Urgency | None = None
    phase: Phase | None = None
    overdue: bool | None = None


def _statement(gate: SharingGate, flt: BoxFilter) -> Any:
    caller = gate.caller
    # The box is where the referral sits; whether and how much of it the caller sees is
    # the one referral rule (app/sharing/visibility.py), in SQL here and per row after.
    stmt = (
        select(Referral)
        .join(Participant, col(Participant.id) == Referral.participant_id)
        .where(referral_visibility_clause(caller, gate.now))
    )
    # A participant sees their own referrals, whichever box is asked for (rule 6).
    if not caller.is_participant and flt.box == Box.inbox:
        stmt = stmt.where(
            Referral.to_org_id == caller.org_id, col(Referral.status) != ReferralStatus.draft
        )
    elif not caller.is_participant:
        stmt = stmt.where(Referral.from_org_id == caller.org_id)
    if flt.status is not None:
        stmt = stmt.where(Referral.status == flt.status)
    if flt.urgency is not None:
        stmt = stmt.where(Referral.urgency == flt.urgency)
    if flt.phase is not None:
        stmt = stmt.where(Participant.phase == flt.phase)
    if flt.overdue is True:
        # Superset: the release-date part is re-decided per row (custody may be withheld).
        stmt = stmt.where(overdue_clause(gate.now))
    elif flt.overdue is False:
        stmt = stmt.where(~late_reply_clause(gate.now))
    return stmt


def _participants(gate: SharingGate, rows: list[Referral]) -> dict[Any, Participant]:
    ids = list({r.participant_id for r in rows})
    if not ids:
        return {}
    people = gate.session.exec(select(Participant).where(col(Participant.id).in_(ids))).all()
    gate.prefetch([p.id for p in people], [p.source_org_id for p in people])
    return {p.id: p for p in people}


def _row_filter(gate: SharingGate, flt: BoxFilter) -> Callable[[list[Referral]], list[Referral]]:
    """The rows of a batch that match the custody-dependent filters, as the caller may know
    them (custody decided per row by the gate)."""

    def keep(rows: list[Referral]) -> list[Referral]:
        people = _participants(gate, rows)
        out = []
        for referral in rows:
            person = people[referral.participant_id]
            if flt.phase is not None and not custody_visible(gate, person):
                continue  # in no phase, for a caller who may not see custody
            if flt.overdue is not None:
                release = visible_release_date(gate, referral, person, record=False)
                if is_overdue(referral, release, gate.now) != flt.overdue:
                    continue
            out.append(referral)
        return out

    return keep


def _page(
    gate: SharingGate, flt: BoxFilter, paging: PageParams
) -> tuple[list[Referral], str | None]:
    """One page of matching referrals: SQL narrows, the gate decides custody per row."""
    stmt = _statement(gate, flt)
    if flt.phase is None and flt.overdue is None:
        return paginate(gate.session, stmt, _KEYS, paging, descending=True)
    return paginate_kept(gate.session, stmt, _KEYS, paging, _row_filter(gate, flt), descending=True)


def list_box(
    gate: SharingGate, flt: BoxFilter, paging: PageParams
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the inbox or outbox, newest first, each read recorded through the gate."""
    rows, cursor = _page(gate, flt, paging)
    people = _participants(gate, rows)
    items = []
    for referral in rows:
        seen = referral_seen(gate, referral)
        assert seen is not None  # the statement selects only the caller's own box
        record_sight(gate, referral, seen, action="list", record_id=False)
        if seen.sight == ReferralSight.closed:
            items.append(referral_view(gate, referral, seen=seen))
            continue
        if flt.phase is not None:
            # Matching a phase filter tells the caller the person's phase: custody.
            person = people[referral.participant_id]
            decision = gate.decide(person.id, Category.custody, person.source_org_id)
            if isinstance(decision, Allow):
                gate.disclosed(
                    person.id, Category.custody, decision.basis, action="list", resource=RESOURCE
                )
        items.append(
            referral_view(
                gate,
                referral,
                participant=people[referral.participant_id],
                with_transitions=False,
                action="list",
                seen=seen,
            )
        )
    return items, cursor
