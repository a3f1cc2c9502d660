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
from app.models.documents import Document
from app.models.endings import EndingChecklist
from app.models.engagement import EngagementNotice
from app.models.governance import RestrictedRecord, RestrictedRecordOrg, Restriction
from app.models.movements import Movement
from app.models.notes import CaseNote, CaseNoteVersion
from app.models.notice import Notice
from app.models.organisation import User
from app.models.participant import CareTeamMember, Participant
from app.models.plan import Action, Goal, Plan, PlanVersion, Review
from app.models.referral import Referral, ReferralTransition
from app.models.referral_milestones import ReferralMilestone
from app.models.risk import RiskAlert
from app.models.screening import Screening
from app.models.sharing import Consent
from app.sharing import policy
from app.sharing.categories import Category
from app.sharing.decision import SELF_SERVICE_CATEGORIES
from app.sharing.gate import SharingGate
from app.sharing.visibility import is_current_lead

SCHEMA_VERSION = "1"
THIRD_PARTY_RULE = (
    "Staff are identified only by organisation and role: fields naming a member of staff "
    "(actor, author, *_by, user ids, with_whom, attendees) are left out."
)
_THIRD_PARTY_KEYS = frozenset(
    {
        "actor",
        "author",
        "user_id",
        "owner_user_id",
        "lead_practitioner_id",
        "with_whom",
        "attendees",
    }
)
# Never in the document: credentials, and document content (the list gives its sha256).
_NEVER_KEYS = frozenset({"password_hash", "content"})
SELF_SERVICE = "self_service"  # in the person's own view, rows of self-service categories

# section -> (model, the timestamp the date range applies to, in the person's own view:
# True, False, or SELF_SERVICE).
SECTIONS: dict[str, tuple[Any, str, bool | str]] = {
    "account": (User, "created_at", True),
    "care_team": (CareTeamMember, "created_at", True),
    "plans": (Plan, "created_at", True),
    "plan_versions": (PlanVersion, "created_at", True),
    "goals": (Goal, "created_at", True),
    "actions": (Action, "created_at", True),
    "reviews": (Review, "created_at", True),
    "referrals": (Referral, "created_at", True),
    "referral_milestones": (ReferralMilestone, "recorded_at", True),
    "appointments": (Appointment, "created_at", True),
    "case_notes": (CaseNote, "created_at", SELF_SERVICE),
    "documents": (Document, "created_at", SELF_SERVICE),
    "consents": (Consent, "created_at", True),
    "restrictions": (Restriction, "recorded_at", True),
    "movements": (Movement, "received_at", True),
    "ending": (EndingChecklist, "updated_at", True),
    "alerts": (RiskAlert, "created_at", False),
    "screenings": (Screening, "created_at", False),
    "break_glass": (BreakGlassGrant, "granted_at", False),
    "notices": (Notice, "created_at", False),
    "engagement_notices": (EngagementNotice, "created_at", False),
    "restricted_record": (RestrictedRecord, "set_at", False),
    "disclosure_log": (AccessEvent, "occurred_at", True),
}
# Sections of rows that hang off rows above (every version of every note listed, every
# transition of every referral listed, the organisations named on the restricted record
# listed), in the same view as their parents.
CHILD_SECTIONS = {
    "case_note_versions": "case_notes",
    "referral_history": "referrals",
    "restricted_record_orgs": "restricted_record",
}
# Tables holding a participant_id that are not sections, and why.
NOT_SECTIONS = {
    "events": "the integration outbox: copies of changes to the records above, made for "
    "delivery to subscribed systems; the records themselves are in their sections",
}


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip(v)
            for k, v in value.items()
            if k not in _THIRD_PARTY_KEYS and k not in _NEVER_KEYS and not k.endswith("_by")
        }
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _rows(gate: SharingGate, table: Table, where: list[Any], order: Any) -> list[dict[str, Any]]:
    result = gate.session.connection().execute(select(table).where(*where).order_by(order))
    return [_strip(dict(row._mapping)) for row in result]


def _children(
    gate: SharingGate, model: Any, key: str, ids: list[Any], order: str, *where: Any
) -> list[Any]:
    table: Table = model.__table__
    if not ids:
        return []
    return _rows(gate, table, [table.c[key].in_(ids), *where], table.c[order])


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
    self_service = sorted(str(c) for c in SELF_SERVICE_CATEGORIES)
    sections: dict[str, list[dict[str, Any]]] = {}
    for name, (model, stamp, in_own_view) in SECTIONS.items():
        if own and not in_own_view:
            continue
        table: Table = model.__table__
        where = [table.c.participant_id == participant.id]
        column = table.c[stamp]
        where += [column >= lo] if lo else []
        where += [column <= hi] if hi else []
        if own and in_own_view == SELF_SERVICE:
            where.append(table.c.category.in_(self_service))
        order = column
        if name == "disclosure_log":
            where.append(table.c.outcome == "allowed")
            rows = _rows(gate, table, where, table.c.seq)
            keep = ("occurred_at", "actor_org_id", "actor_role", "action", "resource")
            sections[name] = [
                {k: r.get(k) for k in (*keep, "categories", "basis", "purpose")} for r in rows
            ]
        elif name == "account":
            keep_account = ("id", "username", "display_name", "role", "active", "created_at")
            rows = _rows(gate, table, where, order)
            sections[name] = [{k: r.get(k) for k in keep_account} for r in rows]
        else:
            sections[name] = _rows(gate, table, where, order)
    versions: Table = CaseNoteVersion.__table__  # type: ignore[attr-defined]
    # In the person's view an earlier version in another category stays out too.
    own_categories = [versions.c.category.in_(self_service)] if own else []
    sections["case_note_versions"] = _children(
        gate,
        CaseNoteVersion,
        "note_id",
        [r["id"] for r in sections["case_notes"]],
        "written_at",
        *own_categories,
    )
    sections["referral_history"] = _children(
        gate, ReferralTransition, "referral_id", [r["id"] for r in sections["referrals"]], "at"
    )
    if not own:
        flagged = [r["participant_id"] for r in sections["restricted_record"]]
        sections["restricted_record_orgs"] = _children(
            gate, RestrictedRecordOrg, "participant_id", flagged, "org_id"
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
