"""Referral lifecycle: create, read, edit drafts, and move through the one transition table.

Who sees a referral, and how much, is the one rule `referral_sight` in
app/sharing/visibility.py (the parties, then the sharing decision for `referrals`); the
inbox/outbox and release readiness use it too. Everyone else: 404. Each read is recorded
through the gate: a disclosure of `referrals`, or, for the recipient's closed view of a
declined or withdrawn referral, an access without any category of the person.

The `overdue` flag is referral data except for its release-date part: the participant's
release date is custody information, so that part is computed only when the sharing
decision lets the caller see the participant's custody (`visible_release_date`), and
the use is recorded as a custody disclosure. A receiver with a referral-only
relationship and no `custody` attached sees only the time-since-submission part.
"""

import uuid
from datetime import date, datetime
from typing import Any

from sqlmodel import col, select

from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.etags import check_if_match
from app.models.directory import Service
from app.models.notice import Notice
from app.models.organisation import Organisation
from app.models.participant import CareRole, CareTeamMember, Participant
from app.models.referral import (
    ACTION_TARGETS,
    DECLINE_CODES,
    REFERRAL_TRANSITIONS,
    REFERRER_ACTIONS,
    WITHDRAW_CODES,
    ReasonCode,
    Referral,
    ReferralAction,
    ReferralActionBody,
    ReferralAmendment,
    ReferralCreate,
    ReferralStatus,
    ReferralTransition,
    ReferralUpdate,
)
from app.models.referral_milestones import ReferralMilestone
from app.services.outbox import emit_referral
from app.services.referral_checks import refusals_for_recipient
from app.services.referral_overdue import NOT_STARTED, is_overdue
from app.sharing import policy
from app.sharing.categories import Category
from app.sharing.decision import Deny
from app.sharing.facts import caller_facts
from app.sharing.gate import SharingGate
from app.sharing.visibility import (
    ReferralParties,
    ReferralSeen,
    ReferralSight,
    referral_sight,
)

RESOURCE = "referral"
_LIFECYCLE_ORDER = list(ReferralStatus)


def referral_seen(gate: SharingGate, referral: Referral) -> ReferralSeen | None:
    """How much of this referral the caller sees (app/sharing/visibility.py), or None."""
    parties = ReferralParties.of(referral)
    facts = caller_facts(gate.caller)
    # The rule only asks the decision when no party rule gives the full view: skip loading
    # the participant's facts for the parties' everyday reads.
    seen = referral_sight(facts, parties, Deny("not_asked"))
    if (seen is not None and seen.sight == ReferralSight.full) or gate.caller.is_participant:
        return seen
    decision = gate.decide(referral.participant_id, Category.referrals, referral.from_org_id)
    return referral_sight(facts, parties, decision)


def record_sight(
    gate: SharingGate,
    referral: Referral,
    seen: ReferralSeen,
    *,
    action: str,
    record_id: bool,
    resource: str = RESOURCE,
    resource_id: str | None = None,
) -> None:
    """The access event of one referral read: `referrals` disclosed on its basis, or for
    the recipient's closed view an access without any category of the person. (`resource`
    and `resource_id` name what was read when the referral is read for something else, a
    document attached to it.)"""
    if resource_id is None:
        resource_id = str(referral.id) if record_id else None
    if seen.sight == ReferralSight.closed:
        gate.accessed(
            referral.participant_id, action=action, resource=resource, resource_id=resource_id
        )
    elif seen.decision is not None:
        # Recorded with the decision's full basis (protocol, consent or grant id).
        gate.require(
            referral.participant_id,
            Category.referrals,
            referral.from_org_id,
            action=action,
            resource=resource,
            resource_id=resource_id,
        )
    else:
        gate.disclosed(
            referral.participant_id,
            Category.referrals,
            seen.basis,
            action=action,
            resource=resource,
            resource_id=resource_id,
        )


def find_referral(
    gate: SharingGate, referral_id: uuid.UUID, *, action: str = "read", for_update: bool = False
) -> tuple[Referral, ReferralSeen]:
    """The referral and how much of it the caller sees; otherwise 404 (and a denial row)."""
    stmt = select(Referral).where(Referral.id == referral_id)
    if for_update:
        stmt = stmt.with_for_update()
    referral = gate.session.exec(stmt).first()
    if referral is None:
        raise NotFound("No such referral.")
    seen = referral_seen(gate, referral)
    if seen is None:
        gate.deny(referral.participant_id, action, RESOURCE, "not_visible")
        raise NotFound("No such referral.")
    record_sight(gate, referral, seen, action=action, record_id=True)
    return referral, seen


def custody_visible(gate: SharingGate, participant: Participant) -> bool:
    """May the caller see this participant's custody details (phase, release dates)?"""
    decision = gate.decide(participant.id, Category.custody, participant.source_org_id)
    return not isinstance(decision, Deny)


def visible_release_date(
    gate: SharingGate,
    referral: Referral,
    participant: Participant,
    *,
    action: str = "read",
    record: bool = True,
) -> date | None:
    """The release date for the overdue rule, or None when custody is withheld.

    When `record` and the release date can change the flag shown (the referral is not
    started yet), its use is recorded as a custody disclosure with the decision's basis.
    """
    decision = gate.decide(participant.id, Category.custody, participant.source_org_id)
    if isinstance(decision, Deny):
        return None
    release_date = participant.actual_release_date or participant.expected_release_date
    if record and release_date is not None and referral.status in NOT_STARTED:
        gate.disclosed(
            participant.id, Category.custody, decision.basis, action=action, resource=RESOURCE
        )
    return release_date


def referral_view(
    gate: SharingGate,
    referral: Referral,
    *,
    participant: Participant | None = None,
    with_transitions: bool = True,
    action: str = "read",
    seen: ReferralSeen | None = None,
) -> dict[str, Any]:
    """The referral as a response body (with its transitions and the overdue flag)."""
    if seen is not None and seen.sight == ReferralSight.closed:
        return closed_view(referral)
    if participant is None:
        participant = gate.session.get(Participant, referral.participant_id)
    assert participant is not None  # foreign key
    release_date = visible_release_date(gate, referral, participant, action=action)
    body = referral.model_dump()
    body["overdue"] = is_overdue(referral, release_date, gate.now)
    body["withheld"] = []
    body["transitions"] = []
    if with_transitions:
        rows = gate.session.exec(
            select(ReferralTransition).where(ReferralTransition.referral_id == referral.id)
        ).all()
        # Transitions in one request share a timestamp; the lifecycle only moves forward,
        # so the target status breaks the tie.
        rows = sorted(rows, key=lambda r: (r.at, _LIFECYCLE_ORDER.index(r.to_status)))
        body["transitions"] = [r.model_dump() for r in rows]
        body["amendments"] = [
            a.model_dump()
            for a in gate.session.exec(
                select(ReferralAmendment)
                .where(ReferralAmendment.referral_id == referral.id)
                .order_by(col(ReferralAmendment.at), col(ReferralAmendment.version))
            )
        ]
        body["milestones"] = [
            m.model_dump()
            for m in gate.session.exec(
                select(ReferralMilestone)
                .where(ReferralMilestone.referral_id == referral.id)
                .order_by(col(ReferralMilestone.recorded_at), col(ReferralMilestone.id))
            )
        ]
    return body


CLOSED_VIEW_FIELDS = (
    "id",
    "from_org_id",
    "to_org_id",
    "service_id",
    "status",
    "decline_reason",
    "decline_code",
    "requested_by_date",
    "submitted_at",
    "version",
    "created_at",
    "updated_at",
)


def closed_view(referral: Referral) -> dict[str, Any]:
    """What a closed referral leaves its recipient: its own record of the exchange (id,
    status, dates, organisations, its own decline reason), nothing of the person."""
    body = {name: getattr(referral, name) for name in CLOSED_VIEW_FIELDS}
    body["withheld"] = [{"category": str(Category.referrals), "reason": "referral_closed"}]
    return body


def _recipient(gate: SharingGate, data: ReferralCreate) -> tuple[Organisation, uuid.UUID | None]:
    to_org_id = data.to_org_id
    if data.service_id is not None:
        service = gate.session.get(Service, data.service_id)
        if service is None or not service.active:
            raise Unprocessable("service_id is not an active directory service.")
        if not service.accepts_throughcare_referrals:
            raise Unprocessable("That service does not accept referrals through Throughcare.")
        if to_org_id is not None and to_org_id != service.provider_org_id:
            raise Unprocessable("to_org_id is not the provider of service_id.")
        to_org_id = service.provider_org_id
    assert to_org_id is not None  # ReferralCreate requires one of the two
    org = gate.session.get(Organisation, to_org_id)
    if org is None or not org.active:
        raise Unprocessable("to_org_id is not an active organisation.")
    if org.id == gate.caller.org_id:
        raise Unprocessable("A referral goes to another organisation.")
    return org, data.service_id


def _record(
    gate: SharingGate,
    referral: Referral,
    from_status: ReferralStatus | None,
    to_status: ReferralStatus,
    note: str | None = None,
    reason_code: ReasonCode | None = None,
) -> None:
    gate.session.add(
        ReferralTransition(
            referral_id=referral.id,
            from_status=from_status,
            to_status=to_status,
            actor=gate.caller.subject,
            actor_org_id=gate.caller.org_id,
            note=note,
            reason_code=reason_code,
            at=gate.now,
        )
    )
    emit_referral(gate, referral, to_status)


def _unreceivable(
    gate: SharingGate, referral: Referral, participant: Participant, categories: list[str]
) -> Unprocessable | None:
    """The 422 (with the refusals) if the recipient may not receive every category given."""
    recipient = gate.session.get(Organisation, referral.to_org_id)
    if recipient is None or not recipient.active:
        return Unprocessable("The receiving organisation is no longer active.")
    refusals = refusals_for_recipient(
        gate.session, participant, recipient, referral.from_org_id, categories, gate.now
    )
    if not refusals:
        return None
    return Unprocessable(
        "The receiving organisation may not be sent every attached category; "
        "remove those listed or record the consent or protocol they need.",
        errors=[r.model_dump() for r in refusals],
    )


def _check_recipient(
    gate: SharingGate,
    referral: Referral,
    participant: Participant,
    *,
    action: str,
    resource_id: str | None,
    categories: list[str] | None = None,
) -> None:
    """422 with the refusals unless the recipient may receive every category given (by
    default every category attached to the referral). A refused submission or amendment
    is a refused disclosure: on the record (`action`, denied), though nothing is created
    or changed."""
    problem = _unreceivable(
        gate, referral, participant, list(referral.categories) if categories is None else categories
    )
    if problem is not None:
        gate.deny(
            referral.participant_id,
            action,
            RESOURCE,
            "category_not_receivable",
            resource_id=resource_id,
        )
        raise problem


def create_referral(gate: SharingGate, data: ReferralCreate) -> dict[str, Any]:
    """Save a draft referral, or submit it at once (every category checked first)."""
    staff = policy.may_do_staff_work(gate.actor, policy.Work.make_referral)
    gate.authorize(staff, "create", RESOURCE, data.participant_id)
    participant = gate.participant(data.participant_id, action="create", resource=RESOURCE)
    recipient, service_id = _recipient(gate, data)
    referral = Referral(
        participant_id=participant.id,
        from_org_id=gate.caller.org_id,
        to_org_id=recipient.id,
        service_id=service_id,
        reason=data.reason,
        urgency=data.urgency,
        categories=[str(c) for c in data.categories],
        requested_by_date=data.requested_by_date,
        status=ReferralStatus.draft,
        created_by=gate.caller.subject,
    )
    if data.submit:
        # Nothing is created when refused: the denial names no referral.
        _check_recipient(gate, referral, participant, action="create", resource_id=None)
    gate.session.add(referral)
    gate.session.flush()
    _record(gate, referral, None, ReferralStatus.draft)
    if data.submit:
        referral.status = ReferralStatus.submitted
        referral.submitted_at = gate.now
        _record(gate, referral, ReferralStatus.draft, ReferralStatus.submitted)
    gate.session.add(referral)
    gate.session.flush()
    gate.wrote(
        participant.id,
        [Category.referrals],
        action="create",
        resource=RESOURCE,
        resource_id=str(referral.id),
    )
    return referral_view(gate, referral)


AMENDABLE = frozenset(
    {ReferralStatus.submitted, ReferralStatus.accepted, ReferralStatus.in_progress}
)
AMENDABLE_FIELDS = ("reason", "urgency", "requested_by_date", "categories")


def _logged(value: Any) -> Any:
    """A field value as the change log keeps it (JSON)."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return sorted(str(v) for v in value)
    return None if value is None else str(value)


def update_referral(
    gate: SharingGate, referral: Referral, data: ReferralUpdate, if_match: str | None
) -> dict[str, Any]:
    """Change a draft, or amend a submitted, accepted or in-progress referral (the referring
    organisation only; If-Match required).

    An amendment needs `change_reason` and logs each changed field with its old and new
    value, who and when. Categories it adds are checked with the sharing decision exactly as
    at submission: if the recipient may not receive one, the amendment is refused (422 with
    the refusals) and nothing changes. The recipient gets a `referral_amended` notice.
    """
    gate.authorize(
        policy.may_edit_referral_draft(gate.actor, from_org_id=referral.from_org_id),
        "update",
        RESOURCE,
        referral.participant_id,
        resource_id=str(referral.id),
    )
    # After the permission: a refused caller learns nothing from 412-or-403.
    check_if_match(if_match, "r", referral.version)
    amending = referral.status in AMENDABLE
    if referral.status != ReferralStatus.draft and not amending:
        raise Conflict(f"A referral that is {referral.status} can no longer be changed.")
    changes = data.model_dump(exclude_unset=True)
    change_reason = changes.pop("change_reason", None)
    if not changes:
        raise Unprocessable("The request changes nothing.")
    for name in ("reason", "urgency", "categories"):
        if name in changes and changes[name] is None:
            raise Unprocessable(f"{name} cannot be null.")
    if "categories" in changes:
        changes["categories"] = [str(c) for c in changes["categories"]]
    if amending:
        if not change_reason:
            raise Unprocessable("An amendment after submission needs a change_reason.")
        changes = {
            name: value
            for name, value in changes.items()
            if _logged(value) != _logged(getattr(referral, name))
        }
        if not changes:
            raise Unprocessable("The request changes nothing.")
        added = sorted(set(changes.get("categories", [])) - set(referral.categories))
        if added:
            # Still a relationship with the person now, and the recipient may receive each
            # added category: as at submission.
            participant = gate.participant(
                referral.participant_id, action="amend", resource=RESOURCE
            )
            _check_recipient(
                gate,
                referral,
                participant,
                action="amend",
                resource_id=str(referral.id),
                categories=added,
            )
    version = referral.version + 1
    for name in AMENDABLE_FIELDS:
        if name not in changes:
            continue
        if amending:
            gate.session.add(
                ReferralAmendment(
                    referral_id=referral.id,
                    version=version,
                    field=name,
                    old_value=_logged(getattr(referral, name)),
                    new_value=_logged(changes[name]),
                    actor=gate.caller.subject,
                    actor_org_id=gate.caller.org_id,
                    reason=change_reason,
                    at=gate.now,
                )
            )
        setattr(referral, name, changes[name])
    referral.version = version
    referral.updated_at = gate.now
    gate.session.add(referral)
    if amending:
        org = gate.session.get(Organisation, referral.from_org_id)
        name = org.name if org else "The referring organisation"
        fields = ", ".join(n.replace("_", " ") for n in AMENDABLE_FIELDS if n in changes)
        gate.session.add(
            Notice(
                organisation_id=referral.to_org_id,
                kind="referral_amended",
                participant_id=referral.participant_id,
                subject_id=str(referral.id),
                message=f"{name} amended their referral ({fields}). Open it for the change log.",
            )
        )
    gate.session.flush()
    emit_referral(gate, referral, "amended")
    gate.wrote(
        referral.participant_id,
        [Category.referrals],
        action="amend" if amending else "update",
        resource=RESOURCE,
        resource_id=str(referral.id),
    )
    return referral_view(gate, referral)


def _reason_code(action: ReferralAction, body: ReferralActionBody) -> ReasonCode | None:
    """The coded reason of a decline or withdrawal (`other` when none is given); 422 for a
    code the action does not take, or a decline without any reason."""
    if action not in (ReferralAction.decline, ReferralAction.withdraw):
        if body.reason_code is not None:
            raise Unprocessable("Only a decline or a withdrawal takes a reason_code.")
        return None
    code = body.reason_code or ReasonCode.other
    allowed = DECLINE_CODES if action == ReferralAction.decline else WITHDRAW_CODES
    if code not in allowed:
        raise Unprocessable(
            f"'{code}' is not a reason to {action}; use one of "
            + ", ".join(sorted(str(c) for c in allowed))
            + "."
        )
    if action == ReferralAction.decline and code == ReasonCode.other and not body.reason:
        raise Unprocessable("A decline needs a reason: a reason_code, or `reason` text.")
    return code


def _notify_referrer(gate: SharingGate, referral: Referral, kind: str, verb: str) -> None:
    org = gate.session.get(Organisation, referral.to_org_id)
    name = org.name if org else "the receiving organisation"
    gate.session.add(
        Notice(
            organisation_id=referral.from_org_id,
            kind=kind,
            participant_id=referral.participant_id,
            subject_id=str(referral.id),
            message=f"Your referral was {verb} by {name}. Open the referral for details.",
        )
    )


def _join_care_team(gate: SharingGate, referral: Referral, now: datetime) -> None:
    member = gate.session.exec(
        select(CareTeamMember.id).where(
            CareTeamMember.participant_id == referral.participant_id,
            CareTeamMember.organisation_id == referral.to_org_id,
            col(CareTeamMember.until).is_(None),
        )
    ).first()
    if member is None:
        gate.session.add(
            CareTeamMember(
                participant_id=referral.participant_id,
                organisation_id=referral.to_org_id,
                user_id=gate.caller.user_id,
                role=CareRole.contributor,
                # The referrer's record: its referral made the membership, so the referring
                # (lead) organisation sees and can end it whatever protocols run back.
                source_org_id=referral.from_org_id,
                added_by=gate.caller.subject,
                since=now,
            )
        )


def apply_action(
    gate: SharingGate,
    referral: Referral,
    action: ReferralAction,
    body: ReferralActionBody,
    if_match: str | None = None,
) -> dict[str, Any]:
    """Move a referral by one action: 403 for the wrong party, 409 if the table forbids it
    (the party is checked first: the status is not the other side's to probe)."""
    may_act = policy.may_act_on_referral(
        gate.actor,
        referrer_action=action in REFERRER_ACTIONS,
        action=str(action),
        from_org_id=referral.from_org_id,
        to_org_id=referral.to_org_id,
    )
    gate.authorize(
        may_act, str(action), RESOURCE, referral.participant_id, resource_id=str(referral.id)
    )
    if if_match:  # optional here: the transition table already guards the state
        check_if_match(if_match, "r", referral.version)
    current, target = referral.status, ACTION_TARGETS[action]
    if target not in REFERRAL_TRANSITIONS[current]:
        raise Conflict(f"A referral that is {current} cannot take the action '{action}'.")
    reason_code = _reason_code(action, body)
    if action == ReferralAction.complete and not body.outcome:
        raise Unprocessable("Completing a referral needs its outcome.")
    if action == ReferralAction.submit:
        # Submitting opens the person's record to another organisation: the referrer must
        # still have a relationship with them now, not only when the draft was written.
        participant = gate.participant(referral.participant_id, action="submit", resource=RESOURCE)
        _check_recipient(gate, referral, participant, action="submit", resource_id=str(referral.id))
        referral.submitted_at = gate.now
    if action == ReferralAction.decline:
        referral.decline_reason = body.reason
        referral.decline_code = reason_code
    if action == ReferralAction.withdraw:
        referral.withdraw_reason = body.reason
        referral.withdraw_code = reason_code
    if action == ReferralAction.complete:
        referral.outcome = body.outcome
    if action == ReferralAction.accept:
        _join_care_team(gate, referral, gate.now)
    referral.status = target
    referral.version += 1
    referral.updated_at = gate.now
    _record(gate, referral, current, target, body.note or body.reason or body.outcome, reason_code)
    if action in (ReferralAction.accept, ReferralAction.decline, ReferralAction.complete):
        verb = {"accept": "accepted", "decline": "declined", "complete": "completed"}[action]
        _notify_referrer(gate, referral, f"referral_{verb}", verb)
    gate.session.add(referral)
    gate.session.flush()
    gate.wrote(
        referral.participant_id,
        [Category.referrals],
        action=str(action),
        resource=RESOURCE,
        resource_id=str(referral.id),
    )
    # Answer with what the caller sees of the referral now (a decline closes it for the
    # recipient).
    return referral_view(gate, referral, seen=referral_seen(gate, referral))
