"""Statistics for commissioners: counts only, computed in SQL, small numbers suppressed.

The suppression rule and the scope are in statistics_core.py; figures about care (times,
readiness at release, engagement, attendance) in statistics_care.py.
"""

from typing import Any

from sqlalchemy import String, and_, case, cast, func, literal
from sqlmodel import Session, col, select

from app.models.audit import AccessEvent
from app.models.break_glass import BreakGlassGrant
from app.models.referral import DECLINE_CODES as REFERRAL_DECLINE_CODES
from app.models.referral import Referral, ReferralStatus
from app.models.sharing import Consent, LawfulBasis, SharingProtocol
from app.services import statistics_care as care
from app.services import statistics_sql as sq
from app.services.statistics_core import Scope, figure, grouped, submitted_in, suppress

__all__ = ["Scope", "statistics", "suppress"]

# The coded reason a referral was declined (ReasonCode; the free text beside it is never
# shown to commissioners, since it may name the person). Declines recorded before the codes
# existed were backfilled as `other`; a row without a code counts there too. Every decline
# code is listed as a part, zeros included.
DECLINE_REASON: Any = func.coalesce(cast(col(Referral.decline_code), String), literal("other"))
DECLINE_CODES: tuple[str, ...] = tuple(sorted(code.value for code in REFERRAL_DECLINE_CODES))

REFERRAL_OUTCOMES: dict[str, tuple[ReferralStatus, ...]] = {
    "accepted": (ReferralStatus.accepted, ReferralStatus.in_progress, ReferralStatus.completed),
    "declined": (ReferralStatus.declined,),
    "withdrawn": (ReferralStatus.withdrawn,),
    "awaiting_response": (ReferralStatus.submitted,),
}


def referral_outcomes(session: Session, scope: Scope, threshold: int) -> dict[str, Any]:
    """Referrals submitted in the range (to the organisations filtered), by outcome so far."""
    status = col(Referral.status)
    bucket = case(
        *[(status.in_(statuses), literal(name)) for name, statuses in REFERRAL_OUTCOMES.items()],
        else_=literal("other"),
    )
    counts = grouped(session, bucket, submitted_in(scope))
    parts = {name: counts.get(name, 0) for name in REFERRAL_OUTCOMES}
    return suppress(sum(parts.values()), parts, threshold)


def break_glass_reviews(session: Session, scope: Scope, threshold: int) -> dict[str, Any]:
    """Break-glass uses in the range (by the organisations filtered), by review outcome."""
    outcome = func.coalesce(cast(col(BreakGlassGrant.review_outcome), String), "awaiting_review")
    counts = grouped(
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


DISCLOSURE_BASES = ("consent", *(b.value for b in LawfulBasis if b != LawfulBasis.consent))


def disclosures_by_basis(session: Session, scope: Scope, threshold: int) -> dict[str, Any]:
    """Disclosures to other organisations in the range (to those filtered), by lawful basis.

    An event with several bases counts once, under the strongest: break-glass, then
    consent, then a protocol without consent, whose lawful basis (public task, legal
    obligation, vital interests) is that of the first protocol the event names.
    """
    strongest = case(
        (_basis_has("break_glass"), literal("break_glass")),
        (_basis_has("consent"), literal("consent")),
        (_basis_has("protocol"), literal("protocol")),
        else_=literal("other"),
    )
    # The protocol id is read (a string search) only for protocol disclosures, and the
    # events are counted per (basis, protocol) before the few groups meet the protocols.
    protocol_id = case(
        (strongest == "protocol", sq.first_protocol_id(session, col(AccessEvent.basis))),
        else_=None,
    )
    events = (
        select(strongest.label("strongest"), protocol_id.label("pid"), func.count().label("n"))
        .where(
            col(AccessEvent.outcome) == "allowed",
            *scope.window(col(AccessEvent.occurred_at)),
            *scope.org(col(AccessEvent.actor_org_id)),
        )
        .group_by(strongest, protocol_id)
        .subquery()
    )
    protocols = (
        select(
            col(SharingProtocol.protocol_id).label("pid"),
            func.min(cast(col(SharingProtocol.lawful_basis), String)).label("lawful_basis"),
        )
        .group_by(col(SharingProtocol.protocol_id))
        .subquery()
    )
    bucket = case(
        (events.c.strongest == "protocol", func.coalesce(protocols.c.lawful_basis, "other")),
        else_=events.c.strongest,
    )
    rows = session.execute(
        select(bucket, func.sum(events.c.n))
        .select_from(events)
        .outerjoin(
            protocols,
            and_(
                events.c.strongest == "protocol",
                sq.uuid_text(session, protocols.c.pid) == events.c.pid,
            ),
        )
        .group_by(bucket)
    ).all()
    counts = {str(k): int(n) for k, n in rows}
    parts = {k: counts.get(k, 0) for k in (*DISCLOSURE_BASES, "break_glass")}
    return suppress(sum(parts.values()), parts, threshold)


def withdrawn_consents(session: Session, scope: Scope, threshold: int) -> dict[str, Any]:
    """Consents withdrawn in the range (recorded by the organisations filtered)."""
    n = session.exec(
        select(func.count()).where(
            *scope.window(col(Consent.withdrawn_at)), *scope.org(col(Consent.source_org_id))
        )
    ).one()
    return {"total": figure(int(n), int(n) < threshold), "parts": {}}


def declines_by_reason(
    session: Session, scope: Scope, threshold: int, referrals: dict[str, Any]
) -> dict[str, Any]:
    """Referrals submitted in the range and declined, by coded reason.

    Its total is the `declined` part of `referrals`: when that part is suppressed there
    (primary or complementary), everything here is suppressed too, or the two tables
    together would give it away.
    """
    counts = grouped(
        session,
        DECLINE_REASON,
        [col(Referral.status) == ReferralStatus.declined, *submitted_in(scope)],
    )
    parts = {code: 0 for code in DECLINE_CODES} | counts
    table = suppress(sum(parts.values()), parts, threshold)
    if referrals["parts"]["declined"]["suppressed"]:
        table = {
            "total": figure(0, True),
            "parts": {k: figure(0, True) for k in table["parts"]},
        }
    return table


def statistics(session: Session, scope: Scope, threshold: int) -> dict[str, Any]:
    """Every figure for the range and filter, suppressed as the threshold says."""
    referrals = referral_outcomes(session, scope, threshold)
    appointments = care.appointment_attendance(session, scope, threshold)
    return {
        "from": scope.start,
        "to": scope.end,
        "org_id": scope.org_id,
        "org_kind": scope.org_kind,
        "suppression_threshold": threshold,
        "referrals": referrals,
        "declines_by_reason": declines_by_reason(session, scope, threshold, referrals),
        "median_days_to_accept": care.median_days_to_accept(session, scope, threshold),
        "median_days_to_first_contact": care.median_days_to_first_contact(
            session, scope, threshold
        ),
        "readiness_at_release": care.readiness_at_release(session, scope, threshold),
        "engagement_after_release": care.engagement_after_release(session, scope, threshold),
        "appointments": appointments,
        "did_not_attend_rate": care.did_not_attend_rate(appointments),
        "break_glass": break_glass_reviews(session, scope, threshold),
        "disclosures": disclosures_by_basis(session, scope, threshold),
        "withdrawn_consents": withdrawn_consents(session, scope, threshold),
    }
