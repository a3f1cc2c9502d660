"""The shape every statistic shares: the scope asked for and small-number suppression.

Each figure is a table: a total and the parts that partition it. A part below the
threshold is suppressed; so is, complementarily, the next smallest part (or the total)
until the suppressed parts cannot be derived from what is shown: at least two of them,
together at least the threshold (docs/governance.md).
"""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, func, select

from app.models.organisation import Organisation
from app.models.referral import Referral


def _today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Scope:
    """The date range [start, end], the optional organisation or kind filter, and today
    (figures that need time to pass, such as engagement by day 28, count up to today)."""

    start: date
    end: date
    org_id: uuid.UUID | None = None
    org_kind: str | None = None
    today: date = field(default_factory=_today)

    def window(self, column: Any) -> list[Any]:
        lo = datetime.combine(self.start, time.min, UTC)
        hi = datetime.combine(self.end, time.max, UTC)
        return [column >= lo, column <= hi]

    def org(self, column: Any) -> list[Any]:
        if self.org_id is not None:
            return [column == self.org_id]
        if self.org_kind is not None:
            # An alias, so the filter never correlates with an Organisation the
            # figure's own query joins (a recipient's, say).
            org = aliased(Organisation)
            kinds = select(org.id).where(org.kind == self.org_kind)
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


def grouped(session: Session, key: Any, where: list[Any]) -> dict[str, int]:
    rows = session.exec(select(key, func.count()).where(*where).group_by(key)).all()
    return {str(k): int(n) for k, n in rows if k is not None}


def submitted_in(scope: Scope) -> list[Any]:
    """Referrals submitted in the range to the organisations filtered."""
    return [*scope.window(col(Referral.submitted_at)), *scope.org(col(Referral.to_org_id))]
