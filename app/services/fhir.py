"""FHIR export: a Bundle of exactly what the caller may see of one participant.

Resources are built and checked with `fhir.resources` (its R4B models: the maintained
library ships R4B and R5 on pydantic 2, not R4; for the resources used here R4B and R4
have the same shape). The data comes through the same service reads the API uses, so
the sharing decision, redaction and audit are theirs: one access event for the export,
with every category it disclosed. A resource with withheld fields carries the security
label REDACTED and a tag per withheld category; records left out are counted in tags on
the Bundle, so a recipient can tell "withheld" from "none".
"""

import uuid
from typing import Any

from sqlmodel import col, select

from app.core.pagination import PageParams
from app.models.organisation import Organisation
from app.services.appointments import list_appointments
from app.services.care_team import list_care_team
from app.services.fhir_clinical import plan_resources, screening_resources
from app.services.fhir_requests import consent_resources, referral_resources
from app.services.participants import participant_view
from app.services.risk import list_alerts
from app.sharing.gate import SharingGate

NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
PRISON_NUMBER = "https://throughcare.example.org/fhir/Id/prison-number"
PROBATION_CRN = "https://throughcare.example.org/fhir/Id/probation-crn"
WITHHELD_SYSTEM = "https://throughcare.example.org/fhir/CodeSystem/withheld-category"
REDACTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "REDACTED",
    "display": "redacted",
}
_ALL = PageParams(limit=1000, cursor=None)
_APPOINTMENT_STATUS = {
    None: "booked",
    "attended": "fulfilled",
    "did_not_attend": "noshow",
    "cancelled": "cancelled",
}
_GENDERS = {"male", "female", "other", "unknown"}


def _meta(source_org_id: Any, withheld: list[dict[str, str]] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"source": f"urn:uuid:{source_org_id}"}
    if withheld:
        meta["security"] = [REDACTED]
        meta["tag"] = [
            {"system": WITHHELD_SYSTEM, "code": w["category"], "display": w["reason"]}
            for w in withheld
        ]
    return meta


def _patient(view: dict[str, Any]) -> dict[str, Any]:
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(view["id"]),
        "meta": _meta(view["source_org_id"], view["withheld"]),
    }
    identifiers = [
        {"system": system, "value": view[name]}
        for name, system in (
            ("nhs_number", NHS_NUMBER),
            ("prison_number", PRISON_NUMBER),
            ("probation_crn", PROBATION_CRN),
        )
        if view.get(name)
    ]
    if identifiers:
        patient["identifier"] = identifiers
    names = []
    if view.get("family_name") or view.get("given_name"):
        official: dict[str, Any] = {"use": "official"}
        if view.get("family_name"):
            official["family"] = view["family_name"]
        if view.get("given_name"):
            official["given"] = [view["given_name"]]
        names.append(official)
    if view.get("preferred_name"):
        names.append({"use": "usual", "given": [view["preferred_name"]]})
    if names:
        patient["name"] = names
    if view.get("date_of_birth"):
        patient["birthDate"] = view["date_of_birth"].isoformat()
    telecom = [
        {"system": system, "value": view[name]}
        for name, system in (("phone", "phone"), ("email", "email"))
        if view.get(name)
    ]
    if telecom:
        patient["telecom"] = telecom
    if view.get("address"):
        patient["address"] = [{"text": view["address"]}]
    if view.get("gender"):
        gender = str(view["gender"]).lower()
        patient["gender"] = gender if gender in _GENDERS else "other"
    return patient


def _care_team(pid: uuid.UUID, members: list[dict[str, Any]], source: Any) -> dict[str, Any]:
    return {
        "resourceType": "CareTeam",
        "id": str(uuid.uuid5(pid, "care-team")),
        "meta": _meta(source),
        "status": "active",
        "subject": {"reference": f"Patient/{pid}"},
        "participant": [
            {
                "role": [{"text": str(m["role"])}],
                "member": {"reference": f"Organization/{m['organisation_id']}"},
                "period": {
                    "start": m["since"].isoformat(),
                    **({"end": m["until"].isoformat()} if m["until"] else {}),
                },
            }
            for m in members
        ],
    }


def _appointment(pid: uuid.UUID, a: Any) -> dict[str, Any]:
    attendance = str(a.attendance) if a.attendance else None
    return {
        "resourceType": "Appointment",
        "id": str(a.id),
        "meta": _meta(a.source_org_id),
        "status": _APPOINTMENT_STATUS[attendance],
        "description": str(a.kind).replace("_", " "),
        "start": a.starts_at.isoformat(),
        "end": a.ends_at.isoformat(),
        "participant": [{"actor": {"reference": f"Patient/{pid}"}, "status": "accepted"}],
    }


def _flag(pid: uuid.UUID, alert: Any) -> dict[str, Any]:
    period = {"start": alert.raised_at.isoformat()}
    if alert.closed_at:
        period["end"] = alert.closed_at.isoformat()
    return {
        "resourceType": "Flag",
        "id": str(alert.id),
        "meta": _meta(alert.source_org_id),
        "status": "active" if str(alert.status) == "active" else "inactive",
        "code": {"text": f"{str(alert.kind).replace('_', ' ')} risk, {alert.level}"},
        "subject": {"reference": f"Patient/{pid}"},
        "period": period,
    }


def export_bundle(gate: SharingGate, participant_id: uuid.UUID) -> dict[str, Any]:
    """The participant's record as a FHIR Bundle (collection) of what the caller may see."""
    participant = gate.participant(participant_id, action="export", resource="fhir_bundle")
    gate.accessed(participant_id, action="export", resource="fhir_bundle")
    view = participant_view(gate, participant, action="export")
    resources: list[dict[str, Any]] = [_patient(view)]
    org_ids: set[Any] = {participant.source_org_id}
    members = list_care_team(gate, participant)
    if members:
        resources.append(_care_team(participant_id, members, participant.source_org_id))
        org_ids |= {m["organisation_id"] for m in members}
    plan_entries, plan = plan_resources(gate, participant_id)
    screening_entries, screenings = screening_resources(gate, participant_id)
    resources += plan_entries + screening_entries
    org_ids |= {r["meta"]["source"].removeprefix("urn:uuid:") for r in plan_entries}
    org_ids |= {r["meta"]["source"].removeprefix("urn:uuid:") for r in screening_entries}
    referral_entries, referrals_withheld, referral_orgs = referral_resources(
        gate, participant, action="export"
    )
    consent_entries, consent_orgs = consent_resources(gate, participant)
    resources += referral_entries + consent_entries
    org_ids |= referral_orgs | consent_orgs
    appointments = list_appointments(gate, participant_id, _ALL)
    alerts = list_alerts(gate, participant_id, _ALL)
    for a in appointments.items:
        resources.append(_appointment(participant_id, a))
        org_ids.add(a.source_org_id)
    for alert in alerts.items:
        resources.append(_flag(participant_id, alert))
        org_ids.add(alert.source_org_id)
    wanted = {uuid.UUID(str(o)) for o in org_ids}
    orgs = gate.session.exec(select(Organisation).where(col(Organisation.id).in_(wanted))).all()
    organisations = [
        {"resourceType": "Organization", "id": str(o.id), "name": o.name} for o in orgs
    ]
    tags = [
        {
            "system": WITHHELD_SYSTEM,
            "code": w.category,
            "display": f"{w.count} record(s) withheld: {w.reason}",
        }
        for w in [
            *appointments.withheld,
            *alerts.withheld,
            *plan.withheld,
            *screenings.withheld,
            *referrals_withheld,
        ]
    ]
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": gate.now.isoformat(),
        "entry": [
            {"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in organisations + resources
        ],
    }
    if tags:
        bundle["meta"] = {"security": [REDACTED], "tag": tags}
    # Imported here, not at start-up: the FHIR models cost a worker ~MBs of memory that
    # no other request needs (issue 10, P5).
    from fhir.resources.R4B.bundle import Bundle

    # Built through the library's models: a Bundle that does not fit them is a 500 here,
    # never a malformed document sent to a partner.
    return dict(Bundle.model_validate(bundle).model_dump(mode="json", exclude_none=True))
