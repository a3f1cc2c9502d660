"""Release readiness: the checklist for the days before release, worked out from the record.

Each item is `met` (with the evidence ids), `not_met`, or `unknown` (evidence withheld from
the caller by the sharing decision). Evidence comes from accepted referrals and from the
care record (shared action plan and appointments; the rules are in
app/services/care_record_evidence.py). When an item has several routes to being met, the
most informative answer wins: met > unknown > not_met.

Referrals count as evidence once accepted (accepted, in progress or completed). The
caller sees them by the one referral rule (`referral_sight`, app/sharing/visibility.py),
the same as `GET /referrals/{id}` and the boxes: exactly the referrals it may read in full
are evidence, each read recorded through the gate.
"""

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.core.pagination import PageParams
from app.models.directory import Service
from app.models.organisation import Organisation
from app.models.participant import Participant, Phase, Withheld
from app.models.readiness import ReadinessItem, ReadinessStatus, ReleaseReadiness, UpcomingRelease
from app.models.referral import Referral, ReferralStatus
from app.models.sharing import Consent
from app.services import care_record_evidence as care
from app.services.care_record_evidence import Evidence
from app.services.filtered_pages import paginate_kept
from app.services.referrals import record_sight, referral_seen
from app.sharing.categories import Category
from app.sharing.decision import Deny
from app.sharing.gate import SharingGate
from app.sharing.visibility import ReferralSight, caseload_page

RESOURCE = "release_readiness"
ACCEPTED = frozenset(
    {ReferralStatus.accepted, ReferralStatus.in_progress, ReferralStatus.completed}
)
_RANK = {
    ReadinessStatus.met: 0,
    ReadinessStatus.unknown: 1,
    ReadinessStatus.not_met: 2,
}


class _Ref:
    """A referral with what the checklist needs to classify it."""

    def __init__(self, row: Referral, org_kind: str, service_categories: list[str]) -> None:
        self.row = row
        self.org_kind = org_kind
        self.service_categories = set(service_categories)

    def about(self, kinds: set[str], categories: set[str]) -> bool:
        return self.org_kind in kinds or bool(self.service_categories & categories)


def _referrals(gate: SharingGate, participant_id: uuid.UUID) -> tuple[list[_Ref], str | None]:
    """The participant's referrals the caller sees in full (the one referral rule, as for
    `GET /referrals/{id}`), and the reason for those it may not see, if any."""
    rows = gate.session.exec(
        select(Referral, Organisation.kind, Service.categories)
        .join(Organisation, col(Organisation.id) == Referral.to_org_id)
        .outerjoin(Service, col(Service.id) == Referral.service_id)
        .where(Referral.participant_id == participant_id)
        .order_by(col(Referral.created_at), col(Referral.id))
    ).all()
    shown: list[_Ref] = []
    unseen: list[Referral] = []
    for row, kind, cats in rows:
        mine = not gate.caller.is_participant and row.from_org_id == gate.caller.org_id
        if row.status == ReferralStatus.draft and not mine:
            continue  # an unsent draft exists for its referrer alone
        seen = referral_seen(gate, row)
        if seen is None:
            unseen.append(row)
        elif seen.sight == ReferralSight.full:
            record_sight(gate, row, seen, action="read", record_id=False)
            shown.append(_Ref(row, str(kind), list(cats or [])))
        # A closed view (declined or withdrawn, seen by its recipient) is never evidence.
    # Not seen means the decision refused `referrals` of the referrer: counted as withheld.
    _, withheld = gate.filter_records(
        participant_id, unseen, Category.referrals, lambda r: r.from_org_id, resource=RESOURCE
    )
    return shown, (withheld[0].reason if withheld else None)


def _from_referrals(
    refs: list[_Ref], withheld: str | None, kinds: set[str], categories: set[str]
) -> Evidence:
    ids = tuple(
        str(r.row.id) for r in refs if r.row.status in ACCEPTED and r.about(kinds, categories)
    )
    if ids:
        return Evidence(ReadinessStatus.met, ids)
    if withheld:
        return Evidence(ReadinessStatus.unknown, note=f"Referrals withheld ({withheld}).")
    return Evidence(ReadinessStatus.not_met, note="No accepted referral.")


def _combine(key: str, label: str, *routes: Evidence) -> ReadinessItem:
    best = min(routes, key=lambda e: _RANK[e.status])
    ids = [i for e in routes if e.status == best.status for i in e.ids]
    notes = [e.note for e in routes if e.note and e.status != ReadinessStatus.met]
    note = None if best.status == ReadinessStatus.met else " ".join(dict.fromkeys(notes))
    return ReadinessItem(key=key, label=label, status=best.status, evidence_ids=ids, note=note)


def active_consents_covering(
    session: Session, participant_id: uuid.UUID, category: str, now: datetime
) -> list[uuid.UUID]:
    """Ids of the participant's active consents that name `category` (any recipient)."""
    rows = session.exec(
        select(Consent).where(
            Consent.participant_id == participant_id,
            col(Consent.withdrawn_at).is_(None),
            col(Consent.given_at) <= now,
            or_(col(Consent.expires_at).is_(None), col(Consent.expires_at) > now),
        )
    ).all()
    return sorted((c.id for c in rows if category in c.categories), key=str)


def _contact(gate: SharingGate, participant: Participant) -> Evidence:
    decision = gate.decide(participant.id, Category.contact, participant.source_org_id)
    if isinstance(decision, Deny):
        return Evidence(
            ReadinessStatus.unknown, note=f"Contact details withheld ({decision.reason})."
        )
    if not (participant.phone or participant.address or participant.email):
        return Evidence(ReadinessStatus.not_met, note="No contact details recorded.")
    consents = active_consents_covering(gate.session, participant.id, Category.contact, gate.now)
    if not consents:
        return Evidence(ReadinessStatus.not_met, note="No active consent to share contact details.")
    gate.disclosed(
        participant.id, Category.contact, decision.basis, action="read", resource=RESOURCE
    )
    return Evidence(ReadinessStatus.met, tuple(str(c) for c in consents))


def _release_date(gate: SharingGate, participant: Participant) -> tuple[date | None, str | None]:
    decision = gate.decide(participant.id, Category.custody, participant.source_org_id)
    if isinstance(decision, Deny):
        return None, decision.reason
    gate.disclosed(
        participant.id, Category.custody, decision.basis, action="read", resource=RESOURCE
    )
    return participant.actual_release_date or participant.expected_release_date, None


def readiness_items(
    gate: SharingGate, participant: Participant, release_date: date | None
) -> list[ReadinessItem]:
    """The eight checklist items for one participant, as the caller may know them."""
    refs, withheld = _referrals(gate, participant.id)

    def referred(kinds: set[str], categories: set[str]) -> Evidence:
        return _from_referrals(refs, withheld, kinds, categories)

    return [
        _combine(
            "accommodation", "Accommodation arranged",
            referred({"housing"}, {"housing"}),
            care.goal_with_done_action(gate, participant, "housing"),
        ),
        _combine(
            "gp_registration", "Registered with a GP",
            referred({"primary_care"}, {"primary_care"}),
        ),
        _combine(
            "community_treatment", "Community mental-health or substance-misuse referral accepted",
            referred(
                {"community_mental_health", "substance_misuse"},
                {"mental_health", "substance_misuse"},
            ),
        ),
        _combine(
            "benefits_claim", "Benefits claim started",
            referred(set(), {"benefits"}),
            care.goal_with_done_action(gate, participant, "benefits"),
        ),
        _combine(
            "medication_on_release", "Medication on release arranged",
            care.medication_arranged(gate, participant),
        ),
        _combine(
            "gate_meeting", "Someone meets them at the gate on release day",
            care.gate_meeting(gate, participant, release_date),
        ),
        _combine(
            "contact_confirmed", "Contact details confirmed, with consent to share them",
            _contact(gate, participant),
        ),
        _combine(
            "reporting_instructions", "Reporting instructions given",
            care.reporting_instructions_given(gate, participant, release_date),
        ),
    ]  # fmt: skip


def release_readiness(gate: SharingGate, participant: Participant) -> ReleaseReadiness:
    """The release checklist of one participant (items withheld from the caller: unknown)."""
    release_date, custody_withheld = _release_date(gate, participant)
    items = readiness_items(gate, participant, release_date)
    return ReleaseReadiness(
        participant_id=participant.id,
        release_date=release_date,
        days_to_release=(release_date - gate.now.date()).days if release_date else None,
        items=items,
        open_items=[i.key for i in items if i.status != ReadinessStatus.met],
        withheld=(
            [Withheld(category=Category.custody, reason=custody_withheld)]
            if custody_withheld
            else []
        ),
    )


RELEASE_KEYS: list[Any] = [Participant.expected_release_date, Participant.id]


def release_window(today: date, within_days: int) -> list[Any]:
    """Participants still in custody whose expected release falls within the window."""
    return [
        col(Participant.phase).in_([Phase.in_prison, Phase.pre_release]),
        col(Participant.expected_release_date) >= today,
        col(Participant.expected_release_date) <= today + timedelta(days=within_days),
    ]


def upcoming_releases(
    gate: SharingGate, within_days: int, paging: PageParams
) -> tuple[list[UpcomingRelease], str | None]:
    """The caller's participants due for release within `within_days`, soonest first.

    Only participants whose custody details the caller may see are listed (the release
    date is custody information). SQL narrows by relationship and dates; the decision runs
    per row after, and pages are filled past dropped rows, so neither a short page nor the
    cursor hints that someone whose custody is withheld is due for release.
    """
    today = gate.now.date()
    keys = RELEASE_KEYS
    where = release_window(today, within_days)

    def page(after: Any, fetch: int) -> Any:
        # From the organisation's relationships, never a walk of every participant.
        return caseload_page(gate.caller, gate.now, keys, after, fetch, where)

    def custody_visible(rows: list[Participant]) -> list[Participant]:
        gate.prefetch([r.id for r in rows], [r.source_org_id for r in rows])
        return [r for r in rows if gate.decide(r.id, Category.custody, r.source_org_id).allowed]

    rows, cursor = paginate_kept(
        gate.session,
        page,
        keys,
        paging,
        custody_visible,
    )
    out = []
    for row in rows:
        release_date, _ = _release_date(gate, row)  # records the custody disclosure
        if release_date is None:
            continue
        items = readiness_items(gate, row, release_date)
        out.append(
            UpcomingRelease(
                participant_id=row.id,
                release_date=release_date,
                days_to_release=(release_date - today).days,
                open_items=[i.key for i in items if i.status != ReadinessStatus.met],
            )
        )
    return out, cursor
