"""Statistics for commissioners: counts only, computed in SQL, small numbers suppressed.

Each figure is a table: a total and the parts that partition it. A part below the
threshold is suppressed; so is, complementarily, the next smallest part (or the total)
until the suppressed parts cannot be derived from what is shown: at least two of them,
together at least the threshold (docs/governance.md).
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import String, case, cast, func, literal
from sqlmodel import Session, col, select

from app.models.audit import AccessEvent
from app.models.break_glass import BreakGlassGrant
from app.models.organisation import Organisation
from app.models.referral import Referral, ReferralStatus
from app.models.sharing import Consent

REFERRAL_OUTCOMES: dict[str, tuple[ReferralStatus, ...]] = {
    "accepted": (ReferralStatus.accepted, ReferralStatus.in_progress, ReferralStatus.completed),
    "declined": (ReferralStatus.declined,),
    "withdrawn": (ReferralStatus.withdrawn,),
    "awaiting_response": (ReferralStatus.submitted,),
}


@dataclass(frozen=True)
class Scope:
    """The date range [start, end] and the optional organisation or kind filter."""

    start: date
    end: date
    org_id: uuid.UUID | None = None
    org_kind: str | None = None

    def window(self, column: Any) -> list[Any]:
        lo = datetime.combine(self.start, time.min, UTC)
        hi = datetime.combine(self.end, time.max, UTC)
        return [column >= lo, column <= hi]

    def org(self, column: Any) -> list[Any]:
        if self.org_id is not None:
            return [column == self.org_id]
        if self.org_kind is not None:
            kinds = select(Organisation.id).where(Organisation.kind == self.org_kind)
            return [column.in_(kinds)]
        return []


def figure(value: int, suppressed: bool) -> dict[str, Any]:
    return {"value": None if suppressed else value, "suppressed": suppressed}


def suppress(total: int, parts: dict[str, int], threshold: int) -> dict[str, Any]:
    """A total and its parts with primary and complementary suppression applied."""
    hidden = {k for k, v in parts.items() if v < threshold}
    hide_total = total < threshold
    if hide_total:
        hidden = set(parts)
    # Complementary: while the hidden parts could be derived from the total, hide more.
    while (
        not hide_total and hidden and (len(hidden) < 2 or sum(parts[k] for k in hidden) < threshold)
    ):
        shown = sorted((v, k) for k, v in parts.items() if k not in hidden)
        if not shown:
            hide_total = True
            break
        hidden.add(shown[0][1])
    return {
        "total": figure(total, hide_total),
        "parts": {k: figure(v, k in hidden) for k, v in parts.items()},
    }


def _grouped(session: Session, key: Any, where: list[Any]) -> dict[str, int]:
    rows = session.exec(select(key, func.count()).where(*where).group_by(key)).all()
    return {str(k): int(n) for k, n in rows if k is not None}


def referral_outcomes(session: Session, scope: Scope, threshold: int) -> dict[str, Any]:
    """Referrals submitted in the range (to the organisations filtered), by outcome so far."""
    status = col(Referral.status)
    bucket = case(
        *[(status.in_(statuses), literal(name)) for name, statuses in REFERRAL_OUTCOMES.items()],
        else_=literal("other"),
    )
    counts = _grouped(
        session,
        bucket,
        [*scope.window(col(Referral.submitted_at)), *scope.org(col(Referral.to_org_id))],
    )
    parts = {name: counts.get(name, 0) for name in REFERRAL_OUTCOMES}
    return suppress(sum(parts.values()), parts, threshold)


def break_glass_reviews(session: Session, scope: Scope, threshold: int) -> dict[str, Any]:
    """Break-glass uses in the range (by the organisations filtered), by review outcome."""
    outcome = func.coalesce(cast(col(BreakGlassGrant.review_outcome), String), "awaiting_review")
    counts = _grouped(
        session,
        outcome,
        [
            *scope.window(col(BreakGlassGrant.granted_at)),
            *scope.org(col(BreakGlassGrant.actor_org_id)),
        ],
    )
    parts = {k: counts.get(k, 0) for k in ("justified", "not_justified", "awaiting_review")}
    return suppress(sum(parts.values()), parts, threshold)


def _basis_has(kind: str) -> Any:
    # The basis column is JSON written by one serializer (json.dumps) on both backends.
    return cast(col(AccessEvent.basis), String).like(f'%"basis": "{kind}"%')


def disclosures_by_basis(session: Session, scope: Scope, threshold: int) -> dict[str, Any]:
    """Disclosures to other organisations in the range (to those filtered), by basis."""
    bucket = case(
        (_basis_has("break_glass"), literal("break_glass")),
        (_basis_has("consent"), literal("consent")),
        (_basis_has("protocol"), literal("protocol_without_consent")),
        else_=literal("other"),
    )
    counts = _grouped(
        session,
        bucket,
        [
            col(AccessEvent.outcome) == "allowed",
            *scope.window(col(AccessEvent.occurred_at)),
            *scope.org(col(AccessEvent.actor_org_id)),
        ],
    )
    parts = {k: counts.get(k, 0) for k in ("consent", "protocol_without_consent", "break_glass")}
    return suppress(sum(parts.values()), parts, threshold)


def withdrawn_consents(session: Session, scope: Scope, threshold: int) -> dict[str, Any]:
    """Consents withdrawn in the range (recorded by the organisations filtered)."""
    n = session.exec(
        select(func.count()).where(
            *scope.window(col(Consent.withdrawn_at)), *scope.org(col(Consent.source_org_id))
        )
    ).one()
    return {"total": figure(int(n), int(n) < threshold), "parts": {}}


def statistics(session: Session, scope: Scope, threshold: int) -> dict[str, Any]:
    """Every figure for the range and filter, suppressed as the threshold says."""
    return {
        "from": scope.start,
        "to": scope.end,
        "org_id": scope.org_id,
        "org_kind": scope.org_kind,
        "suppression_threshold": threshold,
        "referrals": referral_outcomes(session, scope, threshold),
        "break_glass": break_glass_reviews(session, scope, threshold),
        "disclosures": disclosures_by_basis(session, scope, threshold),
        "withdrawn_consents": withdrawn_consents(session, scope, threshold),
    }
