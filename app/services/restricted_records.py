"""Restricted records: a participant who exists only for the organisations named."""

from typing import Any

from sqlmodel import col, delete, select

from app.core.errors import Unprocessable
from app.models.governance import RestrictedRecord, RestrictedRecordOrg, RestrictedRecordWrite
from app.models.organisation import Organisation
from app.models.participant import Participant
from app.sharing import policy
from app.sharing.gate import SharingGate
from app.sharing.visibility import is_current_lead


def set_restricted_record(
    gate: SharingGate, participant: Participant, data: RestrictedRecordWrite
) -> dict[str, Any]:
    """Restrict the record to the named organisations (and the setter's), or lift it."""
    is_lead = is_current_lead(gate.session, participant.id, gate.caller.org_id, gate.now)
    gate.authorize(
        policy.may_restrict_record(gate.actor, is_lead=is_lead),
        "restrict_record",
        "restricted_record",
        participant.id,
    )
    named = set(data.org_ids) | {gate.caller.org_id}
    known = set(
        gate.session.exec(select(Organisation.id).where(col(Organisation.id).in_(named))).all()
    )
    if known != named:
        raise Unprocessable("A named organisation does not exist.")
    row = gate.session.get(RestrictedRecord, participant.id)
    if row is None:
        row = RestrictedRecord(
            participant_id=participant.id,
            reason=data.reason,
            set_by=gate.caller.subject,
            set_by_org_id=gate.caller.org_id,
        )
    row.restricted = data.restricted
    row.reason = data.reason
    row.set_by = gate.caller.subject
    row.set_by_org_id = gate.caller.org_id
    row.set_at = gate.now
    gate.session.add(row)
    gate.session.flush()
    gate.session.exec(
        delete(RestrictedRecordOrg).where(col(RestrictedRecordOrg.participant_id) == participant.id)
    )
    if data.restricted:
        for org_id in sorted(named):
            gate.session.add(RestrictedRecordOrg(participant_id=participant.id, org_id=org_id))
    gate.session.flush()
    gate.wrote(
        participant.id,
        [],
        action="restrict_record" if data.restricted else "lift_record_restriction",
        resource="restricted_record",
        resource_id=str(participant.id),
    )
    return {
        "participant_id": participant.id,
        "restricted": row.restricted,
        "org_ids": sorted(named) if data.restricted else [],
        "reason": row.reason,
        "set_by": row.set_by,
        "set_at": row.set_at,
    }
