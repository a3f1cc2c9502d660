"""Subject access: everything held about one person, as one JSON document.

Third-party rule (docs/governance.md): staff are named only by organisation and role, so
every `actor`, `*_by`, user-id and `with_whom`/`attendees` field is left out, at any depth.
"""

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Table, select

from app.models.appointment import Appointment
from app.models.audit import AccessEvent
from app.models.break_glass import BreakGlassGrant
from app.models.governance import Restriction
from app.models.participant import CareTeamMember, Participant
from app.models.plan import Action, Goal, Plan, PlanVersion, Review
from app.models.referral import Referral, ReferralTransition
from app.models.risk import RiskAlert
from app.models.screening import Screening
from app.models.sharing import Consent
from app.sharing import policy
from app.sharing.categories import Category
from app.sharing.gate import SharingGate
from app.sharing.visibility import is_current_lead

SCHEMA_VERSION = "1"
THIRD_PARTY_RULE = (
    "Staff are identified only by organisation and role: fields naming a member of staff "
    "(actor, *_by, user ids, with_whom, attendees) are left out."
)
_THIRD_PARTY_KEYS = frozenset(
    {"actor", "user_id", "owner_user_id", "lead_practitioner_id", "with_whom", "attendees"}
)

# section -> (model, the timestamp the date range applies to, in the person's own view)
SECTIONS: dict[str, tuple[Any, str, bool]] = {
    "care_team": (CareTeamMember, "created_at", True),
    "plans": (Plan, "created_at", True),
    "plan_versions": (PlanVersion, "created_at", True),
    "goals": (Goal, "created_at", True),
    "actions": (Action, "created_at", True),
    "reviews": (Review, "created_at", True),
    "referrals": (Referral, "created_at", True),
    "appointments": (Appointment, "created_at", True),
    "consents": (Consent, "created_at", True),
    "restrictions": (Restriction, "recorded_at", True),
    "alerts": (RiskAlert, "created_at", False),
    "screenings": (Screening, "created_at", False),
    "break_glass": (BreakGlassGrant, "granted_at", False),
    "disclosure_log": (AccessEvent, "occurred_at", True),
}


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip(v)
            for k, v in value.items()
            if k not in _THIRD_PARTY_KEYS and not k.endswith("_by")
        }
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _rows(gate: SharingGate, table: Table, where: list[Any], order: Any) -> list[dict[str, Any]]:
    result = gate.session.connection().execute(select(table).where(*where).order_by(order))
    return [_strip(dict(row._mapping)) for row in result]


def subject_access(
    gate: SharingGate, participant: Participant, start: date | None, end: date | None
) -> dict[str, Any]:
    """The subject-access document of the participant (bounded for their own token)."""
    is_lead = is_current_lead(gate.session, participant.id, gate.caller.org_id, gate.now)
    verdict = policy.may_read_subject_access(
        gate.actor, participant_id=participant.id, is_lead=is_lead
    )
    gate.authorize(verdict, "read", "subject_access", participant.id)
    own = gate.caller.is_participant
    lo = datetime.combine(start, time.min, UTC) if start else None
    hi = datetime.combine(end, time.max, UTC) if end else None
    sections: dict[str, list[dict[str, Any]]] = {}
    for name, (model, stamp, in_own_view) in SECTIONS.items():
        if own and not in_own_view:
            continue
        table: Table = model.__table__
        column = table.c[stamp]
        where = [table.c.participant_id == participant.id]
        where += [column >= lo] if lo else []
        where += [column <= hi] if hi else []
        if name == "disclosure_log":
            where.append(table.c.outcome == "allowed")
            rows = _rows(gate, table, where, table.c.seq)
            keep = ("occurred_at", "actor_org_id", "actor_role", "action", "resource")
            sections[name] = [
                {k: r.get(k) for k in (*keep, "categories", "basis", "purpose")} for r in rows
            ]
        else:
            sections[name] = _rows(gate, table, where, column)
    referral_ids = [r["id"] for r in sections["referrals"]]
    transitions: Table = ReferralTransition.__table__  # type: ignore[attr-defined]
    sections["referral_history"] = (
        _rows(gate, transitions, [transitions.c.referral_id.in_(referral_ids)], transitions.c.at)
        if referral_ids
        else []
    )
    record_table: Table = Participant.__table__  # type: ignore[attr-defined]
    record = _rows(gate, record_table, [record_table.c.id == participant.id], record_table.c.id)
    basis = "self" if own else "subject_access"
    for category in Category:
        gate.disclosed(participant.id, category, basis, action="read", resource="subject_access")
    return {
        "schema_version": SCHEMA_VERSION,
        "participant_id": participant.id,
        "generated_at": gate.now,
        "from": start,
        "to": end,
        "bounded": own,
        "third_party_rule": THIRD_PARTY_RULE,
        "record": record[0],
        "sections": sections,
    }
