"""The caseload view of engagement: the caller's released participants and their state."""

from datetime import timedelta

from sqlmodel import col

from app.core.pagination import PageParams
from app.models.engagement import EngagementState, EngagementSummary
from app.models.participant import Participant, Phase
from app.services.engagement import engagement
from app.services.engagement_notices import notices_on_read
from app.services.filtered_pages import paginate_kept
from app.sharing import policy
from app.sharing.categories import Category
from app.sharing.gate import SharingGate
from app.sharing.visibility import visible_participants


def caseload_engagement(
    gate: SharingGate,
    paging: PageParams,
    *,
    state: EngagementState | None = None,
    released_within_days: int | None = None,
) -> tuple[list[EngagementSummary], str | None]:
    """Released participants the caller may know were released, most recent release first.

    SQL narrows by relationship, phase and date; the custody decision (and the state, when
    filtered on) run per row after, on a scratch gate whose findings are not recorded, so
    people left off the page leave no access event; pages are filled past dropped rows.
    """
    staff = policy.may_do_staff_work(gate.actor, policy.Work.read_worklists)
    gate.authorize(staff, "list", "engagement")
    today = gate.now.date()
    stmt = visible_participants(gate.caller, gate.now).where(
        Participant.phase == Phase.community,
        col(Participant.actual_release_date).is_not(None),
        col(Participant.actual_release_date) <= today,
    )
    if released_within_days is not None:
        since = today - timedelta(days=released_within_days)
        stmt = stmt.where(col(Participant.actual_release_date) >= since)

    def keep(rows: list[Participant]) -> list[Participant]:
        gate.prefetch([r.id for r in rows], [r.source_org_id for r in rows])
        rows = [r for r in rows if gate.decide(r.id, Category.custody, r.source_org_id).allowed]
        if state is None:
            return rows
        scratch = SharingGate(gate.session, gate.caller, gate.now)
        return [r for r in rows if engagement(scratch, r).state == state]

    rows, cursor = paginate_kept(
        gate.session,
        stmt,
        [Participant.actual_release_date, Participant.id],
        paging,
        keep,
        descending=True,
    )
    out = []
    for row in rows:
        view = engagement(gate, row)
        if view.release_date is None or view.days_since_release is None:
            continue
        notices_on_read(gate, view)
        counts: dict[str, int] = {}
        for service in view.services:
            counts[service.state] = counts.get(service.state, 0) + 1
        out.append(
            EngagementSummary(
                participant_id=row.id,
                state=view.state,
                release_date=view.release_date,
                days_since_release=view.days_since_release,
                services=counts,
            )
        )
    return out, cursor
