"""Visibility in SQL: which participants exist for a caller. Lists and detail reads use it."""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    and_,
    bindparam,
    exists,
    false,
    or_,
    union,
)
from sqlalchemy import select as core_select
from sqlmodel import col, select

from app.auth.caller import Caller
from app.models.governance import RestrictedRecord, RestrictedRecordOrg
from app.models.organisation import Organisation
from app.models.participant import CareRole, CareTeamMember, Participant
from app.models.referral import OPEN_FOR_RECIPIENT, Referral, ReferralStatus
from app.sharing.categories import Category
from app.sharing.decision import Allow, CallerFacts, Decision
from app.sharing.fastsql import Prepared


def membership_in_force(now: datetime) -> ColumnElement[bool]:
    """A care-team membership that has begun and not ended at `now` (the one definition)."""
    return and_(
        col(CareTeamMember.since) <= now,
        or_(col(CareTeamMember.until).is_(None), col(CareTeamMember.until) > now),
    )


def lead_org_ids(session: Any, participant_id: uuid.UUID, now: datetime) -> list[uuid.UUID]:
    """Organisations currently leading the participant's care."""
    return list(
        session.exec(
            select(CareTeamMember.organisation_id).where(
                CareTeamMember.participant_id == participant_id,
                CareTeamMember.role == CareRole.lead,
                membership_in_force(now),
            )
        ).all()
    )


def is_current_lead(
    session: Any, participant_id: uuid.UUID, org_id: uuid.UUID, now: datetime
) -> bool:
    """Whether `org_id` currently leads the participant's care."""
    return org_id in lead_org_ids(session, participant_id, now)


def record_open_to(participant_id: Any, org: Any) -> ColumnElement[bool]:
    """Not a restricted record, or one naming the organisation (issue 14): a restricted
    record exists for nobody else, whatever the protocols, care team or referrals say.

    One NOT EXISTS ("no restriction in force that leaves the organisation out") whose
    subqueries carry `OFFSET 0`: PostgreSQL then keeps each as a correlated probe of the
    table's primary key per candidate row (a page's worth), instead of pulling it up into
    a hash anti-join that reads every restricted record on every list page (a cost that
    grows with the world). Same rows either way; the OFFSET only steers the planner.
    """
    named = (
        select(col(RestrictedRecordOrg.participant_id))
        .where(
            col(RestrictedRecordOrg.participant_id) == col(RestrictedRecord.participant_id),
            col(RestrictedRecordOrg.org_id) == org,
        )
        .offset(0)
    )
    closed = (
        select(col(RestrictedRecord.participant_id))
        .where(
            col(RestrictedRecord.participant_id) == participant_id,
            col(RestrictedRecord.restricted).is_(True),
            ~named.exists(),
        )
        .offset(0)
    )
    return ~closed.exists()


def member_of(org: Any, now: Any) -> ColumnElement[bool]:
    """Care-team rows that relate `org` to their participant: a membership in force."""
    return and_(col(CareTeamMember.organisation_id) == org, membership_in_force(now))


def referred_to(org: Any, open_statuses: Any = None) -> ColumnElement[bool]:
    """Referral rows that relate `org` to their participant: open and addressed to it."""
    statuses = open_statuses if open_statuses is not None else sorted(OPEN_FOR_RECIPIENT)
    return and_(col(Referral.to_org_id) == org, col(Referral.status).in_(statuses))


def related_to(
    participant_id: Any, source_org_id: Any, org: Any, now: Any, open_statuses: Any = None
) -> ColumnElement[bool]:
    """The one WHERE of rules 1-2: the participant row is the organisation's own record,
    or it has an active care-team membership, or an open referral addressed to it.

    Columns and values may be literals or bind parameters (the prepared statements below).
    """
    return and_(
        record_open_to(participant_id, org),
        or_(
            source_org_id == org,
            exists().where(
                col(CareTeamMember.participant_id) == participant_id, member_of(org, now)
            ),
            exists().where(
                col(Referral.participant_id) == participant_id, referred_to(org, open_statuses)
            ),
        ),
    )


def visibility_clause(caller: Caller, now: datetime) -> ColumnElement[bool]:
    """The participants that exist for the caller (rules 1, 2 and 6)."""
    if caller.is_participant:
        if caller.participant_id is None:
            return false()
        return col(Participant.id) == caller.participant_id
    return related_to(col(Participant.id), col(Participant.source_org_id), caller.org_id, now)


def visible_participants(caller: Caller, now: datetime) -> Any:
    """SELECT of the participants the caller may know exist (default deny)."""
    return select(Participant).where(visibility_clause(caller, now))


def caseload_page(
    caller: Caller,
    now: datetime,
    keys: Sequence[Any],
    after: Callable[[Sequence[Any]], ColumnElement[bool] | None],
    limit: int,
    where: Sequence[ColumnElement[bool]] = (),
) -> Any:
    """SELECT of the next `limit` visible participants in `keys` order, driven from the
    caller's organisation's relationships (same rows as `visibility_clause`).

    One branch per relationship (own records, memberships in force, open referrals to the
    organisation), each walking an index that starts from the organisation and stopping
    after `limit` rows past the cursor; the outer select orders at most 3 x `limit` rows.
    So a page costs the same at any size of world or caseload when `keys` is the id, and
    the organisation's relationships, never every participant, otherwise. `after(keys)`
    is the keyset condition on the given key columns (None on the first page); the
    caller applies the final ORDER BY and LIMIT.
    """
    if caller.is_participant:
        stmt = visible_participants(caller, now).where(*where)
        cond = after(keys)
        return stmt if cond is None else stmt.where(cond)
    org = caller.org_id
    id_only = [k.key for k in keys] == ["id"] and not where
    own = select(*keys).where(
        col(Participant.source_org_id) == org, record_open_to(col(Participant.id), org)
    )
    branches: list[tuple[Any, Sequence[Any]]] = [(own, keys)]
    relationships: list[tuple[Any, Any, ColumnElement[bool]]] = [
        (CareTeamMember, CareTeamMember.participant_id, member_of(org, now)),
        (Referral, Referral.participant_id, referred_to(org)),
    ]
    for table, participant_id, related in relationships:
        if id_only:
            # Index-only walk of (organisation, participant_id, ...) in participant order.
            rel_keys = [col(participant_id)]
            stmt = select(col(participant_id).label("id")).where(related)
        else:
            rel_keys = list(keys)
            stmt = select(*keys).join_from(
                table, Participant, col(Participant.id) == participant_id
            )
            stmt = stmt.where(related)
        # A restricted record not naming the organisation, before the branch's LIMIT so a
        # page is never cut short by rows filtered afterwards (issue 14).
        stmt = stmt.where(record_open_to(col(participant_id), org))
        branches.append((stmt, rel_keys))
    parts = []
    for stmt, branch_keys in branches:
        cond = after(branch_keys)
        if cond is not None:
            stmt = stmt.where(cond)
        stmt = stmt.where(*where).distinct().order_by(*branch_keys).limit(limit)
        parts.append(core_select(stmt.subquery().c.id))
    ids = union(*parts).subquery()
    return select(Participant).where(col(Participant.id).in_(core_select(ids.c.id)))


def visible_participant_ids(caller: Caller, now: datetime) -> Any:
    """SELECT of the ids of visible participants, for use in subqueries."""
    return select(Participant.id).where(and_(visibility_clause(caller, now)))


# The detail read is the hottest query of the API: built once, with bind parameters, so a
# request pays only for execution (same WHERE as `visibility_clause`).
VISIBLE_PARTICIPANT_SQL: Any = select(Participant).where(
    col(Participant.id) == bindparam("pid"),
    related_to(
        col(Participant.id), col(Participant.source_org_id), bindparam("org"), bindparam("now")
    ),
)
OWN_PARTICIPANT_SQL: Any = select(Participant).where(
    col(Participant.id) == bindparam("pid"), col(Participant.id) == bindparam("self_id")
)


def find_visible_participant(
    session: Any, caller: Caller, participant_id: uuid.UUID, now: datetime
) -> Participant | None:
    """The participant if they exist for the caller, else None (one prepared query)."""
    params: dict[str, Any]
    if caller.is_participant:
        if caller.participant_id is None:
            return None
        stmt = OWN_PARTICIPANT_SQL
        params = {"pid": participant_id, "self_id": caller.participant_id}
    else:
        stmt = VISIBLE_PARTICIPANT_SQL
        params = {"pid": participant_id, "org": caller.org_id, "now": now}
    row: Participant | None = session.execute(stmt, params).scalars().first()
    return row


_participants: Table = Participant.__table__  # type: ignore[attr-defined]
_orgs: Table = Organisation.__table__  # type: ignore[attr-defined]
_referrals: Table = Referral.__table__  # type: ignore[attr-defined]
PARTICIPANT_COLUMNS: tuple[str, ...] = tuple(c.key for c in _participants.columns)


def _snapshot_sql(own: bool) -> Prepared:
    where: Any = (
        _participants.c.id == bindparam("self_id")
        if own
        else related_to(
            _participants.c.id,
            _participants.c.source_org_id,
            bindparam("org"),
            bindparam("now"),
            # One plain bind per status (Prepared takes no expanding IN).
            [
                bindparam(f"status{i}", str(st), type_=_referrals.c.status.type)
                for i, st in enumerate(sorted(OPEN_FOR_RECIPIENT))
            ],
        )
    )
    return Prepared(
        core_select(*_participants.columns, _orgs.c.kind)
        .join(_orgs, _orgs.c.id == _participants.c.source_org_id)
        .where(_participants.c.id == bindparam("pid"), where)
    )


# The detail read in one statement: the participant's columns (same WHERE as
# `visibility_clause`) and the kind of the source organisation the decision needs.
VISIBLE_SNAPSHOT_SQL = _snapshot_sql(own=False)
OWN_SNAPSHOT_SQL = _snapshot_sql(own=True)


def find_visible_snapshot(
    conn: Connection, caller: Caller, participant_id: uuid.UUID, now: datetime
) -> tuple[SimpleNamespace, str] | None:
    """A read-only copy of the participant's columns and their source organisation's kind,
    if the participant exists for the caller; else None. Not an ORM object: for reads."""
    if caller.is_participant:
        if caller.participant_id is None:
            return None
        rows = OWN_SNAPSHOT_SQL.run(conn, {"pid": participant_id, "self_id": caller.participant_id})
    else:
        rows = VISIBLE_SNAPSHOT_SQL.run(
            conn, {"pid": participant_id, "org": caller.org_id, "now": now}
        )
    if not rows:
        return None
    *values, kind = rows[0]
    return SimpleNamespace(**dict(zip(PARTICIPANT_COLUMNS, values, strict=True))), str(kind)


# -- Who sees a referral: the one rule, as a pure predicate and its SQL form ---------------
#
# A referral is `referrals` information about its participant, recorded by the referring
# organisation. Its parties see it as parties: the referrer always (its own record, rule 1),
# the recipient once it is submitted (it is addressed to them), the participant once it is
# submitted (rule 6). Anyone else sees it only as the sharing decision allows `referrals`
# of the referrer (rules 2-4: a legitimate relationship, a protocol, consent; or rule 5).
# Once declined or withdrawn the recipient never took the person on: unless the decision
# allows it the referral otherwise, it keeps only its own record of the exchange (id,
# status, dates, organisations, its own decline reason) and nothing of the person.
# Drafts are the referrer's work in progress and exist for nobody else.

# Closed without the recipient taking the person on (a completed referral was delivered:
# the recipient's record of that work stays its own).
CLOSED_FOR_RECIPIENT = frozenset({ReferralStatus.declined, ReferralStatus.withdrawn})


class ReferralSight(StrEnum):
    full = "full"
    closed = "closed"  # the recipient's own record of a closed referral: nothing of the person


@dataclass(frozen=True)
class ReferralParties:
    """The facts of one referral the visibility rule needs."""

    participant_id: uuid.UUID
    from_org_id: uuid.UUID
    to_org_id: uuid.UUID
    status: ReferralStatus

    @classmethod
    def of(cls, referral: Referral) -> "ReferralParties":
        return cls(
            referral.participant_id, referral.from_org_id, referral.to_org_id, referral.status
        )


@dataclass(frozen=True)
class ReferralSeen:
    """How much of a referral the caller sees, and why (`decision` when rules 2-5 gave it)."""

    sight: ReferralSight
    basis: str
    decision: Allow | None = None


def referral_sight(
    caller: CallerFacts, referral: ReferralParties, decision: Decision
) -> ReferralSeen | None:
    """Whether and how much the caller sees of a referral (None: it does not exist for them).

    `decision` is the sharing decision for `referrals` of the referral's participant with the
    referring organisation as source (what `SharingGate.decide` answers)."""
    submitted = referral.status != ReferralStatus.draft
    if caller.is_participant:
        mine = caller.participant_id == referral.participant_id
        return ReferralSeen(ReferralSight.full, "self") if mine and submitted else None
    if caller.org_id == referral.from_org_id:
        return ReferralSeen(ReferralSight.full, "own_record")
    if not submitted:
        return None
    addressee = caller.org_id == referral.to_org_id
    if addressee and referral.status not in CLOSED_FOR_RECIPIENT:
        return ReferralSeen(ReferralSight.full, "referral_addressee")
    if isinstance(decision, Allow):
        return ReferralSeen(ReferralSight.full, decision.basis, decision)
    if addressee:
        return ReferralSeen(ReferralSight.closed, "referral_addressee")
    return None


def covered_by_referral(caller: CallerFacts, referral: ReferralParties, category: str) -> bool:
    """Is a referral's document in this category shown by the referral's own view? Only a
    `referrals` document, to a party of the referral (the referral itself is theirs to
    read); every other category, and every other caller, asks the sharing decision.

    Asked only of a referral the caller has the full view of (`referral_sight`)."""
    return (
        category == Category.referrals
        and not caller.is_participant
        and caller.org_id in (referral.from_org_id, referral.to_org_id)
    )


def referral_visibility_clause(caller: Caller, now: datetime) -> ColumnElement[bool]:
    """SQL form of `referral_sight`: the referrals that may exist for the caller.

    Exact for the parties; for anyone else a superset (a relationship with the participant,
    rule 2), narrowed per row by the decision. Needs `Participant` joined on the referral.
    """
    if caller.is_participant:
        if caller.participant_id is None:
            return false()
        return and_(
            col(Referral.participant_id) == caller.participant_id,
            col(Referral.status) != ReferralStatus.draft,
        )
    return or_(
        col(Referral.from_org_id) == caller.org_id,
        and_(
            col(Referral.status) != ReferralStatus.draft,
            or_(
                col(Referral.to_org_id) == caller.org_id,
                related_to(
                    col(Referral.participant_id),
                    col(Participant.source_org_id),
                    caller.org_id,
                    now,
                ),
            ),
        ),
    )
