"""Explain the sharing decision: "why can't I see this?"."""

import uuid
from typing import Any

from app.models.participant import Participant
from app.sharing.categories import Category
from app.sharing.decision import Allow
from app.sharing.gate import SharingGate


def explain_access(
    gate: SharingGate,
    participant: Participant,
    categories: list[Category],
    source_org_id: uuid.UUID | None,
) -> dict[str, Any]:
    """The decision, basis and rule trace for each category, for the calling organisation."""
    source = source_org_id or participant.source_org_id
    results = []
    for category in categories or list(Category):
        decision = gate.decide(participant.id, category, source)
        entry: dict[str, Any] = {
            "category": category,
            "allowed": decision.allowed,
            "trace": list(decision.trace),
        }
        if isinstance(decision, Allow):
            entry.update(decision.as_basis())
        else:
            entry["reason"] = decision.reason
        results.append(entry)
    # Consent, protocol and grant ids and the reasons are about the person: audited.
    gate.accessed(participant.id, action="read", resource="access_explanation")
    return {
        "participant_id": participant.id,
        "organisation_id": gate.caller.org_id,
        "purpose": gate.caller.purpose,
        "source_org_id": source,
        "decisions": results,
    }
