"""The person's restrictions and the objection each carries: recorded, lifted, decided.

No decision caches restrictions: app/sharing/facts.py reads them with the other facts on
every request, so recording, lifting or deciding one applies on the very next request.
"""

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlmodel import col, select

from app.core.errors import Conflict, NotFound, Unprocessable
from app.models.audit import AccessEvent
from app.models.governance import (
    ObjectionDecision,
    ObjectionStatus,
    Restriction,
    RestrictionCreate,
    RestrictionLift,
    RestrictionTarget,
)
from app.models.organisation import Organisation
from app.models.participant import Participant
from app.sharing import policy
from app.sharing.gate import SharingGate
from app.sharing.visibility import is_current_lead

# Written with the person: for the recording organisation and the person only.
PRIVATE_RESTRICTION_FIELDS = ("reason", "lift_reason")


def restriction_view(restriction: Restriction, gate: SharingGate) -> dict[str, Any]:
    """A restriction as the API shows it (its private reasons only to recorder and person)."""
    body = restriction.model_dump()
    body["status"] = (
        "lifted"
        if restriction.lifted_at is not None and restriction.lifted_at <= gate.now
        else "active"
    )
    caller = gate.caller
    if not caller.is_participant and caller.org_id != restriction.source_org_id:
        for name in PRIVATE_RESTRICTION_FIELDS:
            body[name] = None
    return body


def _may_see_restrictions(gate: SharingGate, participant: Participant) -> None:
    # Like consents: governance metadata for everyone with a legitimate relationship,
    # since it explains what is withheld from them, and the person's own.
    caller = gate.caller
    if caller.is_participant or participant.source_org_id == caller.org_id:
        return
    if gate.facts(participant.id).related:
        return
    raise NotFound("No such participant.")


def list_restrictions(gate: SharingGate, participant: Participant) -> list[dict[str, Any]]:
    """Every restriction of the participant, newest first (lifted ones included)."""
    _may_see_restrictions(gate, participant)
    rows = gate.session.exec(
        select(Restriction)
        .where(Restriction.participant_id == participant.id)
        .order_by(col(Restriction.recorded_at).desc(), col(Restriction.id))
    ).all()
    gate.accessed(participant.id, action="list", resource="restriction")
    return [restriction_view(r, gate) for r in rows]


def _authorize_change(gate: SharingGate, participant: Participant, action: str) -> None:
    verdict = policy.may_record_restriction(
        gate.actor,
        participant_id=participant.id,
        source_org_id=participant.source_org_id,
        care_team=gate.facts(participant.id).care_team,
    )
    gate.authorize(verdict, action, "restriction", participant.id)


def record_restriction(
    gate: SharingGate, participant: Participant, data: RestrictionCreate
) -> dict[str, Any]:
    """Record the person's restriction; its objection starts pending."""
    _authorize_change(gate, participant, "record_restriction")
    target_org = data.target_org_id
    if target_org is not None and gate.session.get(Organisation, target_org) is None:
        raise Unprocessable("The target organisation does not exist.")
    restriction = Restriction(
        participant_id=participant.id,
        source_org_id=gate.caller.org_id,
        categories=sorted({str(c) for c in data.categories}),
        target=data.target,
        target_org_id=data.target_org_id,
        target_org_kind=data.target_org_kind,
        reason=data.reason,
        recorded_by=gate.caller.subject,
        recorded_at=gate.now,
    )
    gate.session.add(restriction)
    gate.session.flush()
    gate.wrote(
        participant.id,
        [],
        action="record_restriction",
        resource="restriction",
        resource_id=str(restriction.id),
    )
    return restriction_view(restriction, gate)


def lift_restriction(
    gate: SharingGate, participant: Participant, restriction_id: uuid.UUID, data: RestrictionLift
) -> dict[str, Any]:
    """Lift a restriction (kept in the history); sharing resumes on the next request."""
    restriction = gate.session.get(Restriction, restriction_id)
    if restriction is None or restriction.participant_id != participant.id:
        raise NotFound("No such restriction.")
    _authorize_change(gate, participant, "lift_restriction")
    if restriction.lifted_at is not None:
        raise Conflict("This restriction has already been lifted.")
    restriction.lifted_at = gate.now
    restriction.lifted_by = gate.caller.subject
    restriction.lift_reason = data.reason
    gate.session.add(restriction)
    gate.session.flush()
    gate.wrote(
        participant.id,
        [],
        action="lift_restriction",
        resource="restriction",
        resource_id=str(restriction.id),
    )
    return restriction_view(restriction, gate)


def decide_objection(
    gate: SharingGate, objection_id: uuid.UUID, data: ObjectionDecision
) -> dict[str, Any]:
    """Uphold (it overrides non-consent protocols too) or not uphold, with a written reason."""
    restriction = gate.session.exec(
        select(Restriction).where(Restriction.objection_id == objection_id)
    ).first()
    if restriction is None:
        gate.deny(None, "decide_objection", "objection", "not_found", resource_id=str(objection_id))
        raise NotFound("No such objection.")
    participant = gate.participant(
        restriction.participant_id, action="decide_objection", resource="objection"
    )
    is_lead = is_current_lead(gate.session, participant.id, gate.caller.org_id, gate.now)
    gate.authorize(
        policy.may_decide_objection(gate.actor, is_lead=is_lead),
        "decide_objection",
        "objection",
        participant.id,
        resource_id=str(objection_id),
    )
    if restriction.lifted_at is not None:
        raise Conflict("The restriction has been lifted; there is nothing to decide.")
    if restriction.objection_status != ObjectionStatus.pending:
        raise Conflict("This objection has already been decided.")
    restriction.objection_status = data.outcome
    restriction.objection_reason = data.reason
    restriction.objection_decided_by = gate.caller.subject
    restriction.objection_decided_at = gate.now
    gate.session.add(restriction)
    gate.session.flush()
    gate.wrote(
        participant.id,
        [],
        action="decide_objection",
        resource="objection",
        resource_id=str(objection_id),
    )
    return restriction_view(restriction, gate)


def _target_words(r: Restriction, org_names: dict[uuid.UUID, str]) -> str:
    if r.target == RestrictionTarget.organisation and r.target_org_id is not None:
        return org_names.get(r.target_org_id, "an organisation")
    if r.target == RestrictionTarget.org_kind:
        return f"{str(r.target_org_kind).replace('_', ' ')} services"
    return "anyone outside the organisation leading your care"


def governance_texts(
    gate: SharingGate,
    rows: Sequence[AccessEvent],
    org_names: dict[uuid.UUID, str],
    words: Callable[[list[str]], str],
) -> dict[int, str]:
    """Plain-language disclosure-log lines for restriction and objection events, by seq."""
    wanted = [r for r in rows if r.resource in {"restriction", "objection"} and r.resource_id]
    if not wanted:
        return {}
    ids = {uuid.UUID(r.resource_id) for r in wanted if r.resource_id}
    found = gate.session.exec(
        select(Restriction).where(
            col(Restriction.id).in_(ids) | col(Restriction.objection_id).in_(ids)
        )
    ).all()
    by_id = {str(r.id): r for r in found} | {str(r.objection_id): r for r in found}
    targets = {r.target_org_id for r in found if r.target_org_id} - set(org_names)
    if targets:
        org_names = org_names | dict(
            gate.session.exec(
                select(Organisation.id, Organisation.name).where(col(Organisation.id).in_(targets))
            ).all()
        )
    texts = {}
    for row in wanted:
        r = by_id.get(str(row.resource_id))
        if r is None:
            continue
        if row.actor_role == "participant" or not row.actor_org_id:
            who = "You"
        else:
            who = org_names.get(row.actor_org_id, "An organisation")
        what = f"your {words(r.categories)}"
        to = _target_words(r, org_names)
        when = f"{row.occurred_at.day} {row.occurred_at:%B %Y}"
        if row.action == "record_restriction":
            texts[row.seq] = (
                f"{who} recorded your restriction: {what} is not to be shared with {to}, on {when}."
            )
        elif row.action == "lift_restriction":
            texts[row.seq] = (
                f"{who} lifted your restriction on sharing {what} with {to}, on {when}."
            )
        elif row.action == "decide_objection":
            if r.objection_status == ObjectionStatus.upheld:
                outcome = (
                    "upheld your objection: agreements that do not rely on your consent no "
                    f"longer share {what} with {to} either"
                )
            else:
                outcome = (
                    "did not uphold your objection: agreements that do not rely on your "
                    f"consent still share {what} with {to}"
                )
            texts[row.seq] = (
                f"{who}'s information-governance lead {outcome}. "
                f"Reason given: {r.objection_reason} ({when})."
            )
    return texts
