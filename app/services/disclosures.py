"""The disclosure log in plain language: who saw what about the person, why, and when."""

import uuid
from typing import Any

from sqlmodel import col, select

from app.core.pagination import PageParams, paginate
from app.models.audit import AccessEvent
from app.models.organisation import Organisation
from app.models.participant import Participant
from app.models.sharing import SharingProtocol
from app.services.participants import IDENTIFIER_MATCH
from app.sharing import policy
from app.sharing.gate import SharingGate
from app.sharing.visibility import is_current_lead

CATEGORY_WORDS = {
    "identity": "identity details",
    "contact": "contact details",
    "protected_characteristics": "personal characteristics",
    "custody": "custody information",
    "mental_health": "mental-health information",
    "substance_use": "substance-use information",
    "risk": "risk information",
    "social": "housing and social information",
    "plan": "action plan",
    "referrals": "referrals",
    "appointments": "appointments",
}


# What an access without any category of the person's information was, in plain words.
RESOURCE_WORDS = {
    "notice": "read a notice that names you",
    "access_explanation": "checked what it may see of your record, and why",
    "referral": "looked at its own record of a referral about you that was closed",
}


def _may_read_log(gate: SharingGate, participant: Participant) -> None:
    may_read = policy.may_read_disclosure_log(
        gate.actor,
        participant_id=participant.id,
        lead_practitioner_id=participant.lead_practitioner_id,
        is_lead=is_current_lead(gate.session, participant.id, gate.caller.org_id, gate.now),
    )
    gate.authorize(may_read, "read", "disclosure_log", participant.id)


def _words(categories: list[str]) -> str:
    names = [CATEGORY_WORDS.get(c, c) for c in categories]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _why(basis: list[dict[str, Any]], protocol_names: dict[str, str]) -> str:
    kinds = {b.get("basis") for b in basis}
    if "break_glass" in kinds:
        return "in an emergency (break-glass access, which is reviewed)"
    if "consent" in kinds:
        return "with your consent"
    if "protocol" in kinds:
        names = sorted(
            {
                protocol_names.get(str(b.get("protocol_id")), "an information-sharing")
                for b in basis
                if b.get("basis") == "protocol"
            }
        )
        return f"under the {' and '.join(names)} agreement"
    if "self" in kinds:
        return "(your own view of your record)"
    if "write" in kinds:
        return "when recording it"
    return "as the organisation that recorded it"


def disclosure_log(
    gate: SharingGate, participant: Participant, paging: PageParams
) -> tuple[list[dict[str, Any]], str | None]:
    """Disclosures of the participant's data, newest first, in plain language."""
    _may_read_log(gate, participant)
    stmt = select(AccessEvent).where(
        AccessEvent.participant_id == participant.id, AccessEvent.outcome == "allowed"
    )
    rows, cursor = paginate(gate.session, stmt, [AccessEvent.seq], paging, descending=True)
    org_ids = {r.actor_org_id for r in rows if r.actor_org_id}
    orgs = (
        dict(
            gate.session.exec(
                select(Organisation.id, Organisation.name).where(col(Organisation.id).in_(org_ids))
            ).all()
        )
        if org_ids
        else {}
    )
    protocol_ids = {
        uuid.UUID(str(b["protocol_id"])) for r in rows for b in r.basis if b.get("protocol_id")
    }
    protocol_names = (
        {
            str(pid): name
            for pid, name in gate.session.exec(
                select(SharingProtocol.protocol_id, SharingProtocol.name).where(
                    col(SharingProtocol.protocol_id).in_(protocol_ids)
                )
            ).all()
        }
        if protocol_ids
        else {}
    )
    entries = []
    for row in rows:
        org_name = (
            orgs.get(row.actor_org_id, "An organisation") if row.actor_org_id else "Throughcare"
        )
        when = f"{row.occurred_at.day} {row.occurred_at:%B %Y}"
        if row.action == IDENTIFIER_MATCH:
            text = (
                f"{org_name} tried to register someone with an NHS, prison or probation "
                "number already in your record, so learned that you are known to "
                f"Throughcare, on {when}."
            )
        elif row.categories:
            verb = "saw" if row.action in {"read", "list", "create_replay"} else "recorded"
            why = _why(row.basis, protocol_names)
            text = f"{org_name} {verb} your {_words(row.categories)} {why} on {when}."
        elif row.resource in RESOURCE_WORDS:
            text = f"{org_name} {RESOURCE_WORDS[row.resource]} on {when}."
        else:
            what = f"{row.action.replace('_', ' ')} ({row.resource.replace('_', ' ')})"
            text = f"{org_name}: {what} on {when}."
        entries.append(
            {
                "seq": row.seq,
                "occurred_at": row.occurred_at,
                "organisation_id": row.actor_org_id,
                "organisation_name": orgs.get(row.actor_org_id) if row.actor_org_id else None,
                "actor_role": row.actor_role,
                "action": row.action,
                "resource": row.resource,
                "categories": row.categories,
                "basis": row.basis,
                "purpose": row.purpose,
                "text": text,
            }
        )
    gate.accessed(participant.id, action="read", resource="disclosure_log")
    return entries, cursor
