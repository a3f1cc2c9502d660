"""May the attached categories go to the recipient? Asked of the one sharing decision.

At submission the recipient has no relationship yet, so the question is: *if* this
referral were open, would the pure decision (app/sharing/decision.py) allow the
recipient organisation each attached category, for direct care? The recipient's facts
are loaded exactly as the gate loads them (protocols for its organisation and kind, the
participant's consents), with the relationship replaced by a referral-only one carrying
exactly the attached categories. Nothing here re-implements a rule.

Source organisation of each check: the participant record's source organisation for the
categories held on the participant record (identity, contact, protected characteristics,
custody); the referring organisation for the rest, since a referral conveys what the
referrer holds. (The recipient's later reads are still decided record by record.)
"""

import uuid
from dataclasses import replace
from datetime import datetime

from sqlmodel import Session

from app.auth.caller import Caller
from app.models.organisation import Organisation, Role
from app.models.participant import Participant
from app.models.referral import ReferralRefusal
from app.sharing.categories import Category, Purpose
from app.sharing.decision import Deny, decide
from app.sharing.facts import (
    caller_facts,
    load_org_kinds,
    load_participant_facts,
    load_protocols_for,
)
from app.sharing.fields import PARTICIPANT_FIELDS

PARTICIPANT_RECORD_CATEGORIES = frozenset(PARTICIPANT_FIELDS.values()) - {Category.plan}


def recipient_caller(org: Organisation) -> Caller:
    """A stand-in caller for the receiving organisation (no user, no scopes, direct care)."""
    return Caller(
        subject=f"org:{org.id}",
        token_type="internal",
        org_id=org.id,
        org_kind=org.kind,
        role=Role.practitioner,
        scopes=frozenset(),
        token_id="",
        purpose=Purpose.direct_care,
    )


def source_for(category: str, participant: Participant, from_org_id: uuid.UUID) -> uuid.UUID:
    """The source organisation a category is checked against (see the module docstring)."""
    if category in PARTICIPANT_RECORD_CATEGORIES:
        return participant.source_org_id
    return from_org_id


def refusals_for_recipient(
    session: Session,
    participant: Participant,
    recipient: Organisation,
    from_org_id: uuid.UUID,
    categories: list[str],
    now: datetime,
) -> list[ReferralRefusal]:
    """Each attached category the recipient could not receive, with the decision's reason."""
    caller = recipient_caller(recipient)
    protocols = load_protocols_for(session, caller)
    facts = load_participant_facts(session, caller, [participant.id], now, protocols)
    # Break-glass grants belong to people, not to a referral: never count them here.
    facts_if_open = replace(
        facts[participant.id],
        care_team=False,
        referral_categories=frozenset(categories),
        grants=(),
    )
    sources = {participant.source_org_id, from_org_id}
    kinds = load_org_kinds(session, sources)
    refusals = []
    for category in categories:
        source = source_for(category, participant, from_org_id)
        decision = decide(
            caller_facts(caller), facts_if_open, category, source, kinds.get(source, ""), now
        )
        if isinstance(decision, Deny):
            refusals.append(ReferralRefusal(category=category, reason=decision.reason))
    return refusals
