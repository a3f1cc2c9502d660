"""FHIR resources for referrals (ServiceRequest with its Task) and consents (Consent), from
the same visibility rules the API uses (app/services/fhir.py assembles them).

A referral is a ServiceRequest (what is asked for, by whom, of whom) and a Task that
carries its workflow state, the way FHIR's workflow pattern splits a request from its
fulfilment. Statuses are mapped below; the addressee's closed view of a declined or
withdrawn referral keeps only the exchange (no reason, nothing of the person) and is
labelled REDACTED.
"""

import uuid
from typing import Any

from sqlmodel import col, select

from app.core.errors import NotFound
from app.models.listing import WithheldCountRead
from app.models.participant import Participant
from app.models.referral import Referral, ReferralStatus
from app.services.consents import list_consents
from app.services.referrals import record_sight, referral_seen
from app.sharing.categories import Category
from app.sharing.decision import Deny
from app.sharing.gate import SharingGate
from app.sharing.visibility import ReferralSight

CATEGORY_SYSTEM = "https://throughcare.example.org/fhir/CodeSystem/data-category"
PURPOSE_SYSTEM = "https://throughcare.example.org/fhir/CodeSystem/purpose"
REFERRAL_STATUS_SYSTEM = "https://throughcare.example.org/fhir/CodeSystem/referral-status"
ORG_KIND_EXTENSION = "https://throughcare.example.org/fhir/StructureDefinition/recipient-org-kind"
WITHHELD_SYSTEM = "https://throughcare.example.org/fhir/CodeSystem/withheld-category"
REDACTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "REDACTED",
    "display": "redacted",
}

# ServiceRequest.status: is the request itself still standing?
SERVICE_REQUEST_STATUS = {
    ReferralStatus.draft: "draft",
    ReferralStatus.submitted: "active",
    ReferralStatus.accepted: "active",
    ReferralStatus.in_progress: "active",
    ReferralStatus.completed: "completed",
    ReferralStatus.declined: "revoked",
    ReferralStatus.withdrawn: "revoked",
}
# Task.status: where the work on it is.
TASK_STATUS = {
    ReferralStatus.draft: "draft",
    ReferralStatus.submitted: "requested",
    ReferralStatus.accepted: "accepted",
    ReferralStatus.in_progress: "in-progress",
    ReferralStatus.completed: "completed",
    ReferralStatus.declined: "rejected",
    ReferralStatus.withdrawn: "cancelled",
}
_PRIORITY = {"routine": "routine", "soon": "urgent", "urgent": "asap"}
_CONSENT_STATUS = {
    "active": "active",
    "withdrawn": "inactive",
    "expired": "inactive",
    "pending": "proposed",
}
REFERRAL_CODE = {
    "coding": [{"system": "http://snomed.info/sct", "code": "3457005", "display": "Referral"}],
    "text": "Referral",
}


def _meta(source_org_id: Any, closed: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"source": f"urn:uuid:{source_org_id}"}
    if closed:
        meta["security"] = [REDACTED]
        meta["tag"] = [
            {"system": WITHHELD_SYSTEM, "code": "referrals", "display": "referral_closed"}
        ]
    return meta


def _instant(value: Any) -> str:
    return str(value.isoformat())


def _referral(pid: uuid.UUID, r: Referral, closed: bool) -> list[dict[str, Any]]:
    status = ReferralStatus(r.status)
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": str(r.id),
        "meta": _meta(r.from_org_id, closed),
        "status": SERVICE_REQUEST_STATUS[status],
        "intent": "order",
        "code": REFERRAL_CODE,
        "subject": {"reference": f"Patient/{pid}"},
        "requester": {"reference": f"Organization/{r.from_org_id}"},
        "performer": [{"reference": f"Organization/{r.to_org_id}"}],
    }
    if r.submitted_at:
        request["authoredOn"] = _instant(r.submitted_at)
    if r.requested_by_date:
        request["occurrencePeriod"] = {"end": r.requested_by_date.isoformat()}
    if not closed:
        request["priority"] = _PRIORITY[str(r.urgency)]
        request["reasonCode"] = [{"text": r.reason}]
        request["category"] = [
            {"coding": [{"system": CATEGORY_SYSTEM, "code": str(c)}]} for c in r.categories
        ]
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": str(uuid.uuid5(r.id, "task")),
        "meta": _meta(r.from_org_id, closed),
        "status": TASK_STATUS[status],
        "businessStatus": {
            "coding": [{"system": REFERRAL_STATUS_SYSTEM, "code": str(status)}],
            "text": str(status).replace("_", " "),
        },
        "intent": "order",
        "code": REFERRAL_CODE,
        "focus": {"reference": f"ServiceRequest/{r.id}"},
        "for": {"reference": f"Patient/{pid}"},
        "requester": {"reference": f"Organization/{r.from_org_id}"},
        "owner": {"reference": f"Organization/{r.to_org_id}"},
        "lastModified": _instant(r.updated_at),
    }
    if r.submitted_at:
        task["authoredOn"] = _instant(r.submitted_at)
    if status == ReferralStatus.declined and r.decline_reason:
        task["statusReason"] = {"text": r.decline_reason}
    if status == ReferralStatus.completed and r.outcome and not closed:
        task["output"] = [
            {"type": {"text": "outcome"}, "valueString": r.outcome},
        ]
    return [request, task]


def referral_resources(
    gate: SharingGate, participant: Participant, *, action: str
) -> tuple[list[dict[str, Any]], list[WithheldCountRead], set[uuid.UUID]]:
    """ServiceRequest + Task per referral the caller may see (as `GET /referrals/{id}`
    decides), the count of submitted referrals held back, and the organisations named."""
    rows = gate.session.exec(
        select(Referral)
        .where(Referral.participant_id == participant.id)
        .order_by(col(Referral.created_at), col(Referral.id))
    ).all()
    out: list[dict[str, Any]] = []
    orgs: set[uuid.UUID] = set()
    held: dict[str, int] = {}
    for r in rows:
        seen = referral_seen(gate, r)
        if seen is None:
            if r.status != ReferralStatus.draft:  # a draft is not shared with anyone
                decision = gate.decide(participant.id, Category.referrals, r.from_org_id)
                reason = decision.reason if isinstance(decision, Deny) else "not_visible"
                held[reason] = held.get(reason, 0) + 1
            continue
        record_sight(gate, r, seen, action=action, record_id=False)
        out += _referral(participant.id, r, seen.sight == ReferralSight.closed)
        orgs |= {r.from_org_id, r.to_org_id}
    withheld = [
        WithheldCountRead(category=Category.referrals, reason=reason, count=count)
        for reason, count in sorted(held.items())
    ]
    return out, withheld, orgs


def _consent(pid: uuid.UUID, c: dict[str, Any], status: str) -> dict[str, Any]:
    period: dict[str, Any] = {"start": _instant(c["given_at"])}
    end = c["withdrawn_at"] or c["expires_at"]
    if end is not None:
        period["end"] = _instant(end)
    provision: dict[str, Any] = {
        "type": "permit",
        "period": period,
        "class": [{"system": CATEGORY_SYSTEM, "code": str(cat)} for cat in c["categories"]],
        "purpose": [{"system": PURPOSE_SYSTEM, "code": str(p)} for p in c["purposes"]],
    }
    if c["recipient_org_ids"]:
        provision["actor"] = [
            {
                "role": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                            "code": "IRCP",
                            "display": "information recipient",
                        }
                    ]
                },
                "reference": {"reference": f"Organization/{org}"},
            }
            for org in c["recipient_org_ids"]
        ]
    if c["recipient_org_kinds"]:
        provision["extension"] = [
            {"url": ORG_KIND_EXTENSION, "valueCode": str(kind)} for kind in c["recipient_org_kinds"]
        ]
    return {
        "resourceType": "Consent",
        "id": str(c["id"]),
        "meta": _meta(c["source_org_id"]),
        "status": _CONSENT_STATUS[status],
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                    "display": "Privacy Consent",
                }
            ]
        },
        "category": [
            {"coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Consent"}]}
        ],
        "patient": {"reference": f"Patient/{pid}"},
        "dateTime": _instant(c["given_at"]),
        "organization": [{"reference": f"Organization/{c['source_org_id']}"}],
        "provision": provision,
    }


def consent_resources(
    gate: SharingGate, participant: Participant
) -> tuple[list[dict[str, Any]], set[uuid.UUID]]:
    """A Consent per consent record the caller may see (as `GET …/consents` decides; the
    private notes are never exported), and the organisations named."""
    try:
        views = list_consents(gate, participant)
    except NotFound:
        return [], set()  # consent records are not for this caller
    out: list[dict[str, Any]] = []
    orgs: set[uuid.UUID] = set()
    for view in views:
        out.append(_consent(participant.id, view, str(view["status"])))
        orgs.add(uuid.UUID(str(view["source_org_id"])))
        orgs |= {uuid.UUID(str(o)) for o in view["recipient_org_ids"]}
    return out, orgs
