"""The care team: who works with the participant, and who leads."""

import uuid

from sqlmodel import col, select

from app.core.errors import Conflict, NotFound, Unprocessable
from app.models.organisation import Organisation, User
from app.models.participant import CareRole, CareTeamMember, CareTeamMemberCreate, Participant
from app.services.outbox import emit
from app.sharing import policy
from app.sharing.categories import Category
from app.sharing.gate import SharingGate
from app.sharing.visibility import is_current_lead, membership_in_force


def _active(member: CareTeamMember, gate: SharingGate) -> bool:
    return member.since <= gate.now and (member.until is None or member.until > gate.now)


def _read(
    member: CareTeamMember, names: dict[uuid.UUID, str], gate: SharingGate
) -> dict[str, object]:
    return {
        "id": member.id,
        "participant_id": member.participant_id,
        "organisation_id": member.organisation_id,
        "organisation_name": names.get(member.organisation_id),
        "user_id": member.user_id,
        "role": member.role,
        "since": member.since,
        "until": member.until,
        "active": _active(member, gate),
    }


def _org_names(gate: SharingGate, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = gate.session.exec(
        select(Organisation.id, Organisation.name).where(col(Organisation.id).in_(list(ids)))
    ).all()
    return dict(rows)


def list_care_team(gate: SharingGate, participant: Participant) -> list[dict[str, object]]:
    """Care-team memberships the caller may see (category plan), newest first."""
    members = gate.session.exec(
        select(CareTeamMember)
        .where(CareTeamMember.participant_id == participant.id)
        .order_by(col(CareTeamMember.since).desc(), col(CareTeamMember.id))
    ).all()
    shown, _ = gate.filter_records(
        participant.id,
        members,
        Category.plan,
        lambda m: m.source_org_id,
        resource="care_team_member",
    )
    names = _org_names(gate, {m.organisation_id for m in shown})
    return [_read(m, names, gate) for m in shown]


def _require_lead(gate: SharingGate, participant: Participant, action: str) -> None:
    is_lead = is_current_lead(gate.session, participant.id, gate.caller.org_id, gate.now)
    verdict = policy.may_change_care_team(gate.actor, is_lead=is_lead)
    gate.authorize(verdict, action, "care_team", participant.id)


def add_member(
    gate: SharingGate, participant: Participant, data: CareTeamMemberCreate
) -> dict[str, object]:
    """Add an organisation (optionally a named user) to the care team."""
    _require_lead(gate, participant, "create")
    org = gate.session.get(Organisation, data.organisation_id)
    if org is None or not org.active:
        raise Unprocessable("No such active organisation.")
    if data.user_id is not None:
        user = gate.session.get(User, data.user_id)
        if user is None or user.organisation_id != org.id:
            raise Unprocessable("The named user does not belong to that organisation.")
    existing = gate.session.exec(
        select(CareTeamMember).where(
            CareTeamMember.participant_id == participant.id,
            CareTeamMember.organisation_id == org.id,
            membership_in_force(gate.now),
        )
    ).first()
    if existing is not None:
        raise Conflict("That organisation is already on the care team.")
    member = CareTeamMember(
        participant_id=participant.id,
        organisation_id=org.id,
        user_id=data.user_id,
        role=data.role,
        source_org_id=gate.caller.org_id,
        added_by=gate.caller.subject,
        since=gate.now,
    )
    gate.session.add(member)
    gate.session.flush()
    emit(
        gate,
        "care_team.joined",
        participant.id,
        {"member_id": member.id, "organisation_id": org.id},
        parties=[org.id],
    )
    gate.wrote(
        participant.id,
        [Category.plan],
        action="create",
        resource="care_team_member",
        resource_id=str(member.id),
    )
    return _read(member, {org.id: org.name}, gate)


def end_member(
    gate: SharingGate, participant: Participant, member_id: uuid.UUID
) -> dict[str, object]:
    """End a membership (kept in the history, never deleted)."""
    _require_lead(gate, participant, "end")
    member = gate.session.get(CareTeamMember, member_id)
    if member is None or member.participant_id != participant.id:
        raise NotFound("No such care-team member.")
    if not _active(member, gate):
        raise Conflict("That membership has already ended.")
    if member.role == CareRole.lead:
        other_leads = gate.session.exec(
            select(CareTeamMember.id).where(
                CareTeamMember.participant_id == participant.id,
                CareTeamMember.role == CareRole.lead,
                CareTeamMember.id != member.id,
                membership_in_force(gate.now),
            )
        ).first()
        if other_leads is None:
            raise Conflict("Name another lead organisation before ending the last lead.")
    member.until = gate.now
    gate.session.add(member)
    gate.session.flush()
    emit(
        gate,
        "care_team.ended",
        participant.id,
        {"member_id": member.id, "organisation_id": member.organisation_id},
        source_org_id=member.source_org_id,
        parties=[member.organisation_id],
    )
    gate.wrote(
        participant.id,
        [Category.plan],
        action="end",
        resource="care_team_member",
        resource_id=str(member.id),
    )
    return _read(member, _org_names(gate, {member.organisation_id}), gate)
