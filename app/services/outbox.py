"""The transactional outbox: domain events written in the request's own transaction.

A service calls `emit(gate, "referral.accepted", participant_id, {"referral_id": ...})`
after its change; the row is flushed with the change, so a rolled-back change leaves no
event. Events carry ids and a `detail_url` only, never personal data: a recipient reads
the detail through the API, where the sharing decision applies again.
"""

import uuid
from typing import Any

from app.models.events import DomainEvent
from app.models.referral import Referral
from app.sharing.categories import Category
from app.sharing.gate import SharingGate

# The category of the person's record each kind of event is about: the delivery-time
# decision asks whether the recipient may see that category. Consent and movement events
# say something about the person being known to a service: identity / custody.
EVENT_CATEGORY: dict[str, Category] = {
    "referral": Category.referrals,
    "plan": Category.plan,
    "care_team": Category.plan,
    "appointment": Category.appointments,
    "risk_alert": Category.risk,
    "consent": Category.identity,
    "participant": Category.custody,
    "movement": Category.custody,
    # Engagement events go to the lead organisation alone (app/services/event_access.py):
    # worked out from its own view, they are never decided for anyone else.
    "engagement": Category.appointments,
}

EVENT_TYPES: frozenset[str] = frozenset(
    {
        "referral.submitted",
        "referral.accepted",
        "referral.declined",
        "referral.started",
        "referral.completed",
        "referral.withdrawn",
        "referral.amended",
        "referral.milestone_recorded",
        "plan.changed",
        "plan.reviewed",
        "appointment.booked",
        "appointment.changed",
        "appointment.attendance_recorded",
        "risk_alert.raised",
        "risk_alert.closed",
        "consent.given",
        "consent.withdrawn",
        "consent.expired",
        "care_team.joined",
        "care_team.ended",
        "participant.phase_changed",
        "participant.release_date_changed",
        "movement.received",
        "engagement.first_appointment_missed",
        "engagement.no_contact",
    }
)

_DETAIL = {
    "referral": "/api/v1/referrals/{referral_id}",
    "plan": "/api/v1/participants/{participant_id}/plan",
    "care_team": "/api/v1/participants/{participant_id}/care-team",
    "appointment": "/api/v1/participants/{participant_id}/appointments",
    "risk_alert": "/api/v1/participants/{participant_id}/alerts",
    "consent": "/api/v1/participants/{participant_id}/consents",
    "participant": "/api/v1/participants/{participant_id}",
    "movement": "/api/v1/participants/{participant_id}",
    "engagement": "/api/v1/participants/{participant_id}/engagement",
}


def category_of(event_type: str) -> Category:
    """The record category an event type is about."""
    return EVENT_CATEGORY[event_type.split(".", 1)[0]]


def detail_url(event_type: str, data: dict[str, Any]) -> str:
    """Where a recipient reads what the event is about (through the sharing decision)."""
    return _DETAIL[event_type.split(".", 1)[0]].format(**data)


def emit(
    gate: SharingGate,
    event_type: str,
    participant_id: uuid.UUID,
    ids: dict[str, Any],
    *,
    source_org_id: uuid.UUID | None = None,
    parties: list[uuid.UUID] | None = None,
) -> DomainEvent:
    """Record a domain event about a participant in the current transaction."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type}")
    data = {key: str(value) for key, value in ids.items()}
    data["participant_id"] = str(participant_id)
    data["detail_url"] = detail_url(event_type, data)
    event = DomainEvent(
        type=event_type,
        participant_id=participant_id,
        category=str(category_of(event_type)),
        source_org_id=source_org_id or gate.caller.org_id,
        actor_org_id=gate.caller.org_id,
        party_org_ids=[str(p) for p in parties or []],
        data=data,
        occurred_at=gate.now,
    )
    gate.session.add(event)
    gate.session.flush()
    return event


def emit_referral(gate: SharingGate, referral: Referral, status: str | None) -> None:
    """The event of a referral reaching `status` (none for a new draft)."""
    if status in (None, "draft"):
        return
    event_type = "referral." + {"in_progress": "started"}.get(status, status)
    # A draft is the referrer's alone: its addressee hears of it from submission on.
    parties = [] if referral.status == "draft" else [referral.to_org_id]
    emit(
        gate,
        event_type,
        referral.participant_id,
        {"referral_id": referral.id},
        source_org_id=referral.from_org_id,
        parties=parties,
    )


def emit_custody_changes(gate: SharingGate, participant: Any, changes: dict[str, Any]) -> None:
    """Phase and release-date events for a PATCH about to be applied to `participant`."""
    ids = {"participant_id": participant.id}
    if "phase" in changes and changes["phase"] != participant.phase:
        emit(
            gate,
            "participant.phase_changed",
            participant.id,
            ids,
            source_org_id=participant.source_org_id,
        )
    for name in ("expected_release_date", "actual_release_date"):
        if name in changes and changes[name] != getattr(participant, name):
            emit(
                gate,
                "participant.release_date_changed",
                participant.id,
                ids,
                source_org_id=participant.source_org_id,
            )
            break
