"""Participants: registration, reading through the sharing gate, and updates."""

import uuid
from typing import Any

from sqlalchemy import Table, or_
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from app.core.errors import Conflict, Unprocessable
from app.core.etags import check_etag, etag_of
from app.core.pagination import PageParams, paginate
from app.models.base import utcnow
from app.models.notice import Notice
from app.models.organisation import Organisation, User
from app.models.participant import (
    PHASE_TRANSITIONS,
    CareRole,
    CareTeamMember,
    Participant,
    ParticipantCreate,
    ParticipantFields,
    ParticipantRead,
    ParticipantUpdate,
    Phase,
)
from app.services.filtered_pages import paginate_kept
from app.services.outbox import emit_custody_changes
from app.sharing import policy
from app.sharing.categories import Category
from app.sharing.fields import METADATA_FIELDS, categories_of
from app.sharing.gate import SharingGate
from app.sharing.visibility import (
    caseload_page,
    find_visible_participant,
    is_current_lead,
    lead_org_ids,
)

_IDENTIFIERS = ("nhs_number", "prison_number", "probation_crn")
_PARTICIPANTS: Table = Participant.__table__  # type: ignore[attr-defined]
_SHOWN_FIELDS = [*ParticipantFields.model_fields, "phase", "lead_practitioner_id"]


def participant_view(
    gate: SharingGate, participant: Participant, action: str = "read"
) -> dict[str, Any]:
    """The participant as the caller may see them (redacted, with `withheld`)."""
    values: dict[str, Any] = {
        "id": participant.id,
        "version": participant.version,
        "source_org_id": participant.source_org_id,
        "created_at": participant.created_at,
        "updated_at": participant.updated_at,
    }
    for name in _SHOWN_FIELDS:
        values[name] = getattr(participant, name)
    view = gate.redact(
        participant.id,
        "participant",
        values,
        participant.source_org_id,
        action=action,
        resource_id=str(participant.id),
    )
    if view["withheld"]:
        # The version and the last change describe the whole record: they move when a
        # withheld field changes, so only a reader who sees every category gets them.
        del view["version"], view["updated_at"]
    return view


def render_participant(view: dict[str, Any]) -> bytes:
    """The JSON body of a participant view (validated against ParticipantRead)."""
    rendered = ParticipantRead.model_validate(view).model_dump_json(exclude_unset=True)
    return rendered.encode()


def participant_etag(rendered: bytes) -> str:
    """The ETag of a rendered participant view: it changes only with what the caller sees."""
    return etag_of("p", rendered)


def _identifier_clash(gate: SharingGate, data: dict[str, Any], exclude: uuid.UUID | None) -> None:
    clauses = [col(getattr(Participant, f)) == data[f] for f in _IDENTIFIERS if data.get(f)]
    if not clauses:
        return
    stmt = select(Participant.id).where(or_(*clauses))
    if exclude is not None:
        stmt = stmt.where(Participant.id != exclude)
    if gate.session.exec(stmt).first() is not None:
        # Say nothing about the existing record: not even whether the caller may see it.
        raise Conflict("An identifier in this request is already registered.")


IDENTIFIER_TAKEN = "An identifier in this request is already registered."
IDENTIFIER_MATCH = "identifier_match"  # the access-event action (app/services/disclosures.py)


class IdentifierTaken(Conflict):
    """Registration refused: an identifier is someone's already. The match is recorded
    against that person and their lead organisation told, so the request must end with a
    409 *answer*, not a rollback (the router renders it)."""

    def __init__(self) -> None:
        super().__init__(IDENTIFIER_TAKEN)


def identifier_holders(gate: SharingGate, values: dict[str, Any]) -> list[uuid.UUID]:
    """The participants already holding any identifier in `values`."""
    clauses = [col(getattr(Participant, f)) == values[f] for f in _IDENTIFIERS if values.get(f)]
    if not clauses:
        return []
    stmt = select(Participant.id).where(or_(*clauses)).order_by(col(Participant.id))
    return list(gate.session.exec(stmt).all())


def record_identifier_match(
    gate: SharingGate, holders: list[uuid.UUID], *, notify: bool = True
) -> None:
    """Record that the caller learned each holder is known to Throughcare (a disclosure of
    identity, in their disclosure log), and tell the lead organisation of each holder the
    caller cannot see, so a practitioner can add the caller to the care team or refer."""
    caller_org = gate.session.get(Organisation, gate.caller.org_id)
    name = caller_org.name if caller_org else "Another organisation"
    for holder in holders:
        gate.disclosed(
            holder,
            Category.identity,
            IDENTIFIER_MATCH,
            action=IDENTIFIER_MATCH,
            resource="participant",
            resource_id=str(holder),
        )
        if not notify or find_visible_participant(gate.session, gate.caller, holder, gate.now):
            continue
        person = gate.session.get(Participant, holder)
        leads = lead_org_ids(gate.session, holder, gate.now) or (
            [person.source_org_id] if person else []
        )
        for org_id in leads:
            gate.session.add(
                Notice(
                    organisation_id=org_id,
                    kind=IDENTIFIER_MATCH,
                    participant_id=holder,
                    message=(
                        f"{name} tried to register a person with an identifier already in "
                        "this participant's record. If they work with this person, add them "
                        "to the care team or refer."
                    ),
                    created_at=gate.now,
                )
            )
    gate.session.flush()


def register_participant(gate: SharingGate, data: ParticipantCreate) -> dict[str, Any]:
    """Register a participant; the caller's organisation becomes the lead (and source).

    An identifier someone already holds: the match is recorded and IdentifierTaken raised,
    with one answer whichever identifier matched and whoever holds it."""
    caller = gate.caller
    staff = policy.may_do_staff_work(gate.actor, policy.Work.register_participant)
    gate.authorize(staff, "create", "participant")
    values = data.model_dump(exclude_unset=False)
    holders = identifier_holders(gate, values)
    if holders:
        record_identifier_match(gate, holders)
        raise IdentifierTaken()
    participant = Participant(**values, source_org_id=caller.org_id)
    if caller.user_id is not None and caller.role in {"practitioner", "supervisor"}:
        participant.lead_practitioner_id = caller.user_id
    gate.session.add(participant)
    try:
        with gate.session.begin_nested():
            gate.session.flush()
    except IntegrityError:
        # A concurrent registration took the identifier first (not yet visible above).
        raise Conflict(IDENTIFIER_TAKEN) from None
    gate.session.add(
        CareTeamMember(
            participant_id=participant.id,
            organisation_id=caller.org_id,
            user_id=caller.user_id,
            role=CareRole.lead,
            source_org_id=caller.org_id,
            added_by=caller.subject,
        )
    )
    gate.session.flush()
    given = [k for k, v in data.model_dump(exclude_unset=True).items() if v is not None]
    gate.wrote(
        participant.id,
        categories_of("participant", given) or {Category.identity},
        action="create",
        resource="participant",
        resource_id=str(participant.id),
    )
    gate.prefetch([participant.id], [participant.source_org_id])
    return participant_view(gate, participant, action="create")


def record_replay(gate: SharingGate, participant_id: uuid.UUID, body: dict[str, Any]) -> None:
    """An Idempotency-Key replay returns the stored body again: record every category
    of the fields it carries, as the first answer disclosed them."""
    shown = [name for name in body if name not in METADATA_FIELDS]
    for category in sorted(categories_of("participant", shown) or {Category.identity}):
        gate.disclosed(
            participant_id,
            category,
            "idempotent_replay",
            action="create_replay",
            resource="participant",
            resource_id=str(participant_id),
        )


def list_participants(
    gate: SharingGate, paging: PageParams, phase: Phase | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """The participants the caller may know exist, redacted row by row.

    `phase` is custody information: it matches only participants whose custody the caller
    may see (decided per row by the gate after SQL narrows by relationship and phase).
    """
    # Ordered by id: the one key every relationship index can walk in order from the
    # organisation, so a page costs the same at any caseload size (see caseload_page).
    keys = [Participant.id]
    where = [] if phase is None else [col(Participant.phase) == phase]

    def page(after: Any, fetch: int) -> Any:
        # The page's rows as plain column rows, not ORM objects: they are only read (the
        # view takes their attributes), and loading 50 instances cost more than the query.
        stmt = caseload_page(gate.caller, gate.now, keys, after, fetch, where)
        return core_select(*_PARTICIPANTS.columns).where(stmt.whereclause)

    if phase is None:
        rows, cursor = paginate(gate.session, page, keys, paging)
    else:

        def custody_seen(batch: list[Participant]) -> list[Participant]:
            gate.prefetch([r.id for r in batch], [r.source_org_id for r in batch])
            return [
                r for r in batch if gate.decide(r.id, Category.custody, r.source_org_id).allowed
            ]

        rows, cursor = paginate_kept(gate.session, page, keys, paging, custody_seen)
    gate.prefetch([r.id for r in rows], [r.source_org_id for r in rows])
    return [participant_view(gate, r, action="list") for r in rows], cursor


_REQUIRED = ("given_name", "family_name", "phase")


def update_participant(
    gate: SharingGate, participant_id: uuid.UUID, data: ParticipantUpdate, if_match: str | None
) -> dict[str, Any]:
    """Apply a PATCH: permission first, then If-Match, then the change itself."""
    caller = gate.caller
    participant = gate.participant(participant_id, action="update")
    # Locked for the rest of the transaction: two PATCHes with one If-Match serialise
    # here, and the second compares its tag with what the first wrote. FOR NO KEY UPDATE
    # on PostgreSQL: rows that merely reference the participant (the care team, notices)
    # are not held up, so no deadlock with requests that insert them.
    gate.session.refresh(participant, with_for_update={"key_share": True})
    changes = data.model_dump(exclude_unset=True)
    verdict = policy.may_update_participant(
        gate.actor,
        source_org_id=participant.source_org_id,
        care_team=gate.facts(participant.id).care_team,
        is_lead=is_current_lead(gate.session, participant.id, caller.org_id, gate.now),
        withheld=sorted(
            str(c)
            for c in categories_of("participant", set(changes))
            if not gate.decide(participant.id, c, participant.source_org_id).allowed
        ),
        names_lead_practitioner="lead_practitioner_id" in changes,
    )
    gate.authorize(verdict, "update", "participant", participant.id)
    current = participant_view(gate, participant, action="update")
    check_etag(if_match, participant_etag(render_participant(current)))
    if not changes:
        raise Unprocessable("The request changes nothing.")
    # Registration requires these; a PATCH may change them, never blank them out.
    if any(name in changes and changes[name] is None for name in _REQUIRED):
        raise Unprocessable(f"{', '.join(_REQUIRED)} cannot be null.")
    if "phase" in changes:
        new_phase = Phase(changes["phase"])
        if new_phase != participant.phase and new_phase not in PHASE_TRANSITIONS[participant.phase]:
            # Not naming the current phase: a failed request writes no disclosure row.
            raise Conflict(f"A participant cannot move to {new_phase} from their current phase.")
    if changes.get("lead_practitioner_id") is not None:
        _check_lead_practitioner(gate, changes["lead_practitioner_id"])
    _identifier_clash(gate, changes, participant.id)
    emit_custody_changes(gate, participant, changes)
    for name, value in changes.items():
        setattr(participant, name, value)
    participant.version += 1
    participant.updated_at = utcnow()
    gate.session.add(participant)
    try:
        with gate.session.begin_nested():
            gate.session.flush()
    except IntegrityError:
        raise Conflict("An identifier in this request is already registered.") from None
    gate.wrote(
        participant.id,
        categories_of("participant", set(changes)),
        action="update",
        resource="participant",
        resource_id=str(participant.id),
    )
    return participant_view(gate, participant, action="update")


def _check_lead_practitioner(gate: SharingGate, user_id: uuid.UUID) -> None:
    user = gate.session.get(User, user_id)
    if user is None or user.organisation_id != gate.caller.org_id or not user.active:
        raise Unprocessable(
            "The lead practitioner must be an active user of the lead organisation."
        )
