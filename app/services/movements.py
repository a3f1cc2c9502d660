"""Prison movement intake: custody and phase follow what the prison or probation system says.

A movement names the person by prison number. It is applied only to a person the sending
organisation has a relationship with; any other number (unknown, or someone else's) is
the same 422, so the answer reveals nothing about other people. The sender's event id
makes a repeat a no-op. Phases move only through the participant transition table.
"""

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from app.auth.caller import Caller
from app.auth.tokens import CLIENT_TOKEN, PARTNER_ROLE
from app.core.errors import Conflict, Unprocessable
from app.models.movements import Movement, MovementCreate, MovementKind, MovementRead
from app.models.notice import Notice
from app.models.organisation import Organisation
from app.models.participant import PHASE_TRANSITIONS, Participant, Phase
from app.services.outbox import emit, emit_custody_changes
from app.services.release_readiness import release_readiness
from app.sharing import policy
from app.sharing.categories import Category
from app.sharing.gate import SharingGate
from app.sharing.visibility import lead_org_ids, visibility_clause

RESOURCE = "movement"
_TARGET_PHASE = {
    MovementKind.received: Phase.in_prison,
    MovementKind.recalled: Phase.in_prison,
    MovementKind.released: Phase.community,
}


def _existing(gate: SharingGate, event_id: str) -> Movement | None:
    return gate.session.exec(
        select(Movement).where(
            Movement.organisation_id == gate.caller.org_id, Movement.event_id == event_id
        )
    ).first()


def _read(movement: Movement, duplicate: bool) -> MovementRead:
    return MovementRead.model_validate({**movement.model_dump(), "duplicate": duplicate})


def _changes(participant: Participant, data: MovementCreate) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    target = _TARGET_PHASE.get(data.kind)
    if target is not None and target != participant.phase:
        if target not in PHASE_TRANSITIONS[participant.phase]:
            raise Conflict(f"A '{data.kind}' movement cannot apply to this person's phase.")
        changes["phase"] = target
    if data.kind != MovementKind.released and data.establishment:
        changes["establishment"] = data.establishment
    if data.kind == MovementKind.released:
        changes["actual_release_date"] = data.occurred_at.date()
    return changes


def record_movement(gate: SharingGate, data: MovementCreate) -> tuple[MovementRead, bool]:
    """Apply a movement once; a repeat of its event id changes nothing (True if new)."""
    sender = gate.session.get(Organisation, gate.caller.org_id)
    verdict = policy.may_record_movement(gate.actor, org_kind=str(sender.kind if sender else ""))
    gate.authorize(verdict, "create", RESOURCE)
    if data.kind != MovementKind.released and not data.establishment:
        raise Unprocessable(f"A '{data.kind}' movement needs the establishment.")
    previous = _existing(gate, data.event_id)
    if previous is not None:
        return _read(previous, duplicate=True), False
    participant = gate.session.exec(
        select(Participant)
        .where(
            Participant.prison_number == data.prison_number,
            visibility_clause(gate.caller, gate.now),
        )
        .with_for_update()
    ).first()
    if participant is None:
        raise Unprocessable("No person with this prison number is known to your organisation.")
    changes = _changes(participant, data)
    movement = Movement(
        organisation_id=gate.caller.org_id,
        event_id=data.event_id,
        kind=data.kind,
        participant_id=participant.id,
        establishment=data.establishment,
        occurred_at=data.occurred_at,
        received_by=gate.caller.subject,
    )
    try:
        with gate.session.begin_nested():
            gate.session.add(movement)
            gate.session.flush()
    except IntegrityError:
        # The same event id arrived concurrently: the first one applies, this is a repeat.
        previous = _existing(gate, data.event_id)
        if previous is None:
            raise
        return _read(previous, duplicate=True), False
    emit_custody_changes(gate, participant, changes)
    for name, value in changes.items():
        setattr(participant, name, value)
    if changes:
        participant.version += 1
        participant.updated_at = gate.now
        gate.session.add(participant)
    emit(gate, "movement.received", participant.id, {"movement_id": movement.id})
    gate.session.flush()
    gate.wrote(
        participant.id,
        [Category.custody],
        action="movement",
        resource="participant",
        resource_id=str(participant.id),
    )
    if data.kind == MovementKind.released:
        _notify_open_readiness(gate, participant, data.occurred_at)
    return _read(movement, duplicate=False), True


def _lead_caller(gate: SharingGate, org: Organisation) -> Caller:
    return Caller(
        subject="system:release_readiness",
        token_type=CLIENT_TOKEN,
        org_id=org.id,
        org_kind=org.kind,
        role=PARTNER_ROLE,
        scopes=frozenset(),
        token_id="",
        request_id=gate.caller.request_id,
    )


def _notify_open_readiness(gate: SharingGate, participant: Participant, at: datetime) -> None:
    """Tell each lead organisation at once when someone leaves with readiness items open.

    The checklist is worked out as the lead sees it (its own gate, audited as its read).
    """
    for org_id in lead_org_ids(gate.session, participant.id, gate.now):
        org = gate.session.get(Organisation, org_id)
        if org is None:
            continue
        lead_gate = SharingGate(gate.session, _lead_caller(gate, org), gate.now)
        readiness = release_readiness(lead_gate, participant)
        lead_gate.flush_success()
        if not readiness.open_items:
            continue
        labels = [i.label for i in readiness.items if i.key in readiness.open_items]
        gate.session.add(
            Notice(
                organisation_id=org_id,
                kind="released_with_open_items",
                participant_id=participant.id,
                subject_id=str(participant.id),
                message=(
                    f"A person you lead was released on {at.date().isoformat()} with "
                    f"{len(labels)} readiness items open: {'; '.join(labels)}."
                ),
            )
        )
    gate.session.flush()
