"""Inbox and outbox: the referrals addressed to, or sent by, the caller's organisation."""

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from sqlmodel import col, select

from app.core.pagination import PageParams, paginate
from app.models.participant import Participant, Phase
from app.models.referral import Referral, ReferralStatus, Urgency
from app.services.referral_overdue import overdue_clause, release_date_column
from app.services.referrals import RESOURCE, referral_view, visibility_basis
from app.sharing.categories import Category
from app.sharing.gate import SharingGate


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
    stmt = select(Referral).join(Participant, col(Participant.id) == Referral.participant_id)
    if caller.is_participant:
        # A participant's own referrals, whichever box is asked for (rule 6).
        stmt = stmt.where(
            Referral.participant_id == caller.participant_id,
            col(Referral.status) != ReferralStatus.draft,
        )
    elif flt.box == Box.inbox:
        stmt = stmt.where(
            Referral.to_org_id == caller.org_id, col(Referral.status) != ReferralStatus.draft
        )
    else:
        stmt = stmt.where(Referral.from_org_id == caller.org_id)
    if flt.status is not None:
        stmt = stmt.where(Referral.status == flt.status)
    if flt.urgency is not None:
        stmt = stmt.where(Referral.urgency == flt.urgency)
    if flt.phase is not None:
        stmt = stmt.where(Participant.phase == flt.phase)
    if flt.overdue is not None:
        clause = overdue_clause(gate.now)
        stmt = stmt.where(clause if flt.overdue else ~clause)
    return stmt


def list_box(
    gate: SharingGate, flt: BoxFilter, paging: PageParams
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the inbox or outbox, newest first, each read recorded through the gate."""
    rows, cursor = paginate(
        gate.session,
        _statement(gate, flt),
        [Referral.created_at, Referral.id],
        paging,
        descending=True,
    )
    release: dict[Any, date | None] = {}
    ids = list({r.participant_id for r in rows})
    if ids:
        release = dict(
            gate.session.exec(
                select(Participant.id, release_date_column()).where(col(Participant.id).in_(ids))
            ).all()
        )
    items = []
    for referral in rows:
        basis = visibility_basis(gate, referral)
        assert basis is not None  # the statement selects only visible referrals
        gate.disclosed(
            referral.participant_id, Category.referrals, basis, action="list", resource=RESOURCE
        )
        items.append(
            referral_view(
                gate,
                referral,
                release_date=release.get(referral.participant_id),
                with_transitions=False,
            )
        )
    return items, cursor
