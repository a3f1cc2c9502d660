"""Consent: recorded with the person, withdrawn at any time, never deleted.

No decision caches consent: every request reads the consent rows afresh, so a
withdrawal takes effect on the very next request.
"""

import uuid
from typing import Any

from sqlmodel import col, select

from app.auth.scopes import Scope
from app.core.errors import Conflict, NotFound, Unprocessable
from app.models.organisation import Organisation
from app.models.participant import Participant
from app.models.sharing import Consent, ConsentCreate, ConsentWithdraw
from app.services.consent_notices import notify_consent_withdrawal
from app.services.outbox import emit
from app.sharing import policy
from app.sharing.gate import SharingGate


def consent_status(consent: Consent, gate: SharingGate) -> str:
    """active | withdrawn | expired | pending (given in the future)."""
    if consent.withdrawn_at is not None:
        return "withdrawn"
    if consent.expires_at is not None and consent.expires_at <= gate.now:
        return "expired"
    if consent.given_at > gate.now:
        return "pending"
    return "active"


# Free text written with the person: for the organisation that recorded the consent and
# for the person themself, not for every organisation the consent concerns.
PRIVATE_CONSENT_FIELDS = ("notes", "evidence_ref", "withdrawal_reason")


def consent_view(consent: Consent, gate: SharingGate) -> dict[str, Any]:
    """A consent record as the API shows it (private notes only to its recorder and the
    person)."""
    body = {**consent.model_dump(), "status": consent_status(consent, gate)}
    caller = gate.caller
    if not caller.is_participant and caller.org_id != consent.source_org_id:
        for name in PRIVATE_CONSENT_FIELDS:
            body[name] = None
    return body


def _names_caller(consent: Consent, gate: SharingGate) -> bool:
    caller = gate.caller
    return (
        str(caller.org_id) in {str(o) for o in consent.recipient_org_ids}
        or str(caller.org_kind) in consent.recipient_org_kinds
    )


def _may_see_consents(gate: SharingGate, participant: Participant) -> None:
    # Consent records are governance metadata for everyone with a legitimate
    # relationship (they explain what may be shared), and the person's own.
    facts = gate.facts(participant.id)
    caller = gate.caller
    if caller.is_participant or participant.source_org_id == caller.org_id or facts.related:
        return
    raise NotFound("No such participant.")


def list_consents(gate: SharingGate, participant: Participant) -> list[dict[str, Any]]:
    """Every consent of the participant, newest first (history included)."""
    _may_see_consents(gate, participant)
    rows = gate.session.exec(
        select(Consent)
        .where(Consent.participant_id == participant.id)
        .order_by(col(Consent.given_at).desc(), col(Consent.id))
    ).all()
    caller = gate.caller
    if not (
        caller.is_participant
        or participant.source_org_id == caller.org_id
        or gate.facts(participant.id).care_team
    ):
        # A referral-only recipient sees the consents that concern it, not the whole
        # history (which would show which other services are involved).
        rows = [c for c in rows if _names_caller(c, gate)]
    gate.accessed(participant.id, action="list", resource="consent")
    return [consent_view(c, gate) for c in rows]


def record_consent(
    gate: SharingGate, participant: Participant, data: ConsentCreate
) -> dict[str, Any]:
    """Record consent given by the participant to a practitioner of a care-team organisation."""
    caller = gate.caller
    staff = policy.may_do_staff_work(gate.actor, policy.Work.record_consent)
    gate.authorize(staff, "create", "consent", participant.id)
    may_record = policy.may_write_record(
        gate.actor,
        source_org_id=participant.source_org_id,
        care_team=gate.facts(participant.id).care_team,
    )
    gate.authorize(may_record, "create", "consent", participant.id)
    if data.recipient_org_ids:
        known = set(
            gate.session.exec(
                select(Organisation.id).where(col(Organisation.id).in_(data.recipient_org_ids))
            ).all()
        )
        if known != set(data.recipient_org_ids):
            raise Unprocessable("A recipient organisation does not exist.")
    given_at = data.given_at or gate.now
    if given_at > gate.now:
        raise Unprocessable("given_at is in the future.")
    if data.expires_at is not None and data.expires_at <= gate.now:
        raise Unprocessable("expires_at is already past.")
    consent = Consent(
        participant_id=participant.id,
        source_org_id=caller.org_id,
        categories=sorted({str(c) for c in data.categories}),
        recipient_org_ids=sorted({str(o) for o in data.recipient_org_ids}),
        recipient_org_kinds=sorted({str(k) for k in data.recipient_org_kinds}),
        purposes=sorted({str(p) for p in data.purposes}),
        method=data.method,
        evidence_ref=data.evidence_ref,
        notes=data.notes,
        recorded_by=caller.subject,
        given_at=given_at,
        expires_at=data.expires_at,
    )
    gate.session.add(consent)
    gate.session.flush()
    emit(gate, "consent.given", participant.id, {"consent_id": consent.id})
    gate.wrote(
        participant.id, [], action="record_consent", resource="consent", resource_id=str(consent.id)
    )
    return consent_view(consent, gate)


def withdraw_consent(
    gate: SharingGate, participant: Participant, consent_id: uuid.UUID, data: ConsentWithdraw
) -> dict[str, Any]:
    """Withdraw a consent: effective from the next request on; the record is kept."""
    caller = gate.caller
    consent = gate.session.get(Consent, consent_id)
    if consent is None or consent.participant_id != participant.id:
        raise NotFound("No such consent.")
    gate.authorize(
        policy.may_withdraw_consent(
            gate.actor,
            participant_id=participant.id,
            source_org_id=participant.source_org_id,
            care_team=gate.facts(participant.id).care_team,
            has_consents_write=caller.has(Scope.consents_write),
        ),
        "withdraw_consent",
        "consent",
        participant.id,
        resource_id=str(consent.id),
    )
    if consent.withdrawn_at is not None:
        raise Conflict("This consent has already been withdrawn.")
    consent.withdrawn_at = gate.now
    consent.withdrawal_reason = data.reason
    consent.withdrawn_by = caller.subject
    gate.session.add(consent)
    gate.session.flush()
    notify_consent_withdrawal(gate, consent)
    gate.wrote(
        participant.id,
        [],
        action="withdraw_consent",
        resource="consent",
        resource_id=str(consent.id),
    )
    return consent_view(consent, gate)
