"""FHIR export: a Bundle of exactly what the caller may see, withheld data marked, audited.

Bundles are checked by the app against the `fhir.resources` R4B models; here every one is
checked again against them and for what it must and must not contain.
"""

import uuid
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from sqlmodel import select

from app.models.audit import AccessEvent
from app.models.organisation import Organisation
from app.services.fhir import NHS_NUMBER
from tests.integration.world import HookWorld, P


def _export(hw: HookWorld, headers: dict[str, str]) -> dict[str, Any]:
    res = hw.client.get(f"{P}/{hw.participant.id}/fhir", headers=headers)
    assert res.status_code == 200, res.text
    assert res.headers["content-type"].startswith("application/fhir+json")
    body: dict[str, Any] = res.json()
    Bundle.model_validate(body)  # raises on anything that is not a valid Bundle
    return body


def _of(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _with_records(hw: HookWorld) -> None:
    hw.participant.nhs_number = "9434765919"
    hw.db.add(hw.participant)
    hw.db.commit()
    hw.book()
    res = hw.client.post(
        f"{P}/{hw.participant.id}/alerts",
        json={"kind": "self_harm", "level": "high", "notes": "Synthetic note"},
        headers=hw.coord_headers,
    )
    assert res.status_code == 201


def test_lead_sees_the_whole_record(hw: HookWorld) -> None:
    _with_records(hw)
    bundle = _export(hw, hw.coord_headers)
    [patient] = _of(bundle, "Patient")
    assert {"system": NHS_NUMBER, "value": "9434765919"} in patient["identifier"]
    assert patient["name"][0]["family"] == "Example"
    assert "security" not in patient["meta"]
    assert patient["meta"]["source"] == f"urn:uuid:{hw.coord.id}"
    [appointment] = _of(bundle, "Appointment")
    assert appointment["status"] == "booked"
    assert appointment["meta"]["source"] == f"urn:uuid:{hw.coord.id}"
    [flag] = _of(bundle, "Flag")
    assert flag["status"] == "active" and "Synthetic" not in str(flag)
    [team] = _of(bundle, "CareTeam")
    members = {p["member"]["reference"] for p in team["participant"]}
    assert members == {f"Organization/{hw.coord.id}", f"Organization/{hw.housing.id}"}
    assert {o["id"] for o in _of(bundle, "Organization")} >= {str(hw.coord.id)}


def test_consent_recipient_sees_only_appointments_and_knows_the_rest_is_withheld(
    hw: HookWorld,
) -> None:
    _with_records(hw)
    bundle = _export(hw, hw.world.headers(hw.housing))
    [patient] = _of(bundle, "Patient")
    assert set(patient) == {"resourceType", "id", "meta"}
    assert patient["meta"]["security"][0]["code"] == "REDACTED"
    assert {t["code"] for t in patient["meta"]["tag"]} >= {"identity", "contact"}
    assert len(_of(bundle, "Appointment")) == 1
    assert _of(bundle, "Flag") == []
    assert {t["code"] for t in bundle["meta"]["tag"]} == {"risk"}
    text = str(bundle)
    assert "9434765919" not in text and "Sam" not in text and "07700" not in text


def test_after_withdrawal_the_appointments_go_too(hw: HookWorld) -> None:
    _with_records(hw)
    hw.withdraw()
    bundle = _export(hw, hw.world.headers(hw.housing))
    assert _of(bundle, "Appointment") == []
    assert "appointments" in {t["code"] for t in bundle["meta"]["tag"]}


def test_export_is_audited_with_what_it_disclosed(hw: HookWorld) -> None:
    _with_records(hw)
    _export(hw, hw.world.headers(hw.housing))
    [event] = hw.db.exec(
        select(AccessEvent).where(
            AccessEvent.participant_id == hw.participant.id, AccessEvent.action == "export"
        )
    ).all()
    assert event.resource == "fhir_bundle" and event.outcome == "allowed"
    assert event.actor_org_id == hw.housing.id
    assert "appointments" in event.categories and "risk" not in event.categories


def test_stranger_gets_404(hw: HookWorld) -> None:
    stranger = hw.world.org("Stranger", "housing")
    res = hw.client.get(f"{P}/{hw.participant.id}/fhir", headers=hw.world.headers(stranger))
    assert res.status_code == 404
    assert hw.client.get(f"{P}/{hw.participant.id}/fhir").status_code == 401


def _r4_schema() -> Any:
    """The official FHIR R4 JSON schema (fhir.schema.json of 4.0.1,
    https://hl7.org/fhir/R4/fhir.schema.json, CC0), from THROUGHCARE_FHIR_SCHEMA."""
    import json
    import os
    from pathlib import Path

    import pytest

    path = os.environ.get("THROUGHCARE_FHIR_SCHEMA")
    if not path:
        pytest.skip(
            "THROUGHCARE_FHIR_SCHEMA is not set: the official FHIR R4 fhir.schema.json "
            "(https://hl7.org/fhir/R4/fhir.schema.json) is not vendored; point the variable "
            "at a copy to validate every exported Bundle against it"
        )
    schema = json.loads(Path(path).read_text())
    assert schema.get("id") == "http://hl7.org/fhir/json-schema/4.0", "not the R4 schema"
    return schema


def _schema_errors(schema: dict[str, Any], bundle: dict[str, Any]) -> list[str]:
    """Errors of the Bundle against the whole schema, and of each entry's resource against
    its own definition (the whole schema's `oneOf` only says "matches none")."""
    import jsonschema

    def errors(definition: str | None, doc: Any) -> list[str]:
        sub = schema
        if definition is not None:
            sub = {k: v for k, v in schema.items() if k not in ("oneOf", "discriminator")}
            sub["$ref"] = f"#/definitions/{definition}"
        return [
            f"{definition or 'Bundle'}/{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
            for e in jsonschema.Draft6Validator(sub).iter_errors(doc)
        ]

    out = errors(None, bundle)
    for entry in bundle.get("entry", []):
        out += errors(entry["resource"]["resourceType"], entry["resource"])
    return out


def test_bundles_validate_against_the_official_r4_schema(
    hw: HookWorld, world: Any, db: Any, client: Any
) -> None:
    """Every kind of export (lead, consent recipient, referral addressee open and closed,
    after a withdrawal), each resource type in it, against the R4 JSON schema."""
    import jsonschema

    schema = _r4_schema()
    jsonschema.Draft6Validator.check_schema(schema)
    _with_records(hw)
    _with_plan_and_screening(hw)
    referral = _with_referrals(hw)
    bundles = [_export(hw, hw.coord_headers), _export(hw, hw.world.headers(hw.housing))]
    declined = hw.client.post(
        f"/api/v1/referrals/{referral['id']}/decline",
        json={"reason": "No capacity"},
        headers=hw.world.headers(hw.housing),
    )
    assert declined.status_code == 200, declined.text
    hw.withdraw()
    me = hw.world.headers(hw.coord, "participant", participant_id=hw.participant.id)
    bundles += [_export(hw, h) for h in (hw.coord_headers, hw.world.headers(hw.housing), me)]
    kinds = {e["resource"]["resourceType"] for b in bundles for e in b["entry"]}
    assert kinds >= {
        "Patient", "Organization", "CareTeam", "CarePlan", "Goal", "ServiceRequest", "Task",
        "Consent", "Flag", "QuestionnaireResponse", "Observation", "Appointment",
    }  # fmt: skip
    for bundle in bundles:
        assert _schema_errors(schema, bundle) == []
    # the check is not a rubber stamp: an unknown status or property fails it
    for bad in ({"resourceType": "Task", "status": "x"}, {"resourceType": "Patient", "x": 1}):
        broken = {**bundles[0], "entry": [{"fullUrl": "urn:uuid:x", "resource": bad}]}
        assert len(_schema_errors(schema, broken)) >= 2, bad


def _with_referrals(hw: HookWorld) -> dict[str, Any]:
    """A referral from the lead to housing, and one to a third service housing is no
    party to (its existence is marked withheld for housing, nothing more)."""
    from app.models.organisation import OrgKind
    from tests.api.referral_world import add_protocol

    third = hw.world.org("Community MH", OrgKind.community_mental_health)
    add_protocol(
        hw.db, OrgKind.care_coordination, OrgKind.community_mental_health, ["appointments"]
    )
    hw.db.commit()
    made = []
    for to in (hw.housing, third):
        res = hw.client.post(
            "/api/v1/referrals",
            json={
                "participant_id": str(hw.participant.id),
                "to_org_id": str(to.id),
                "reason": "Synthetic reason for referral",
                "urgency": "soon",
                "categories": ["appointments"],
                "submit": True,
            },
            headers=hw.coord_headers,
        )
        assert res.status_code == 201, res.text
        made.append(res.json())
    return dict(made[0])


def test_referrals_as_service_request_and_task(hw: HookWorld) -> None:
    referral = _with_referrals(hw)
    lead = _export(hw, hw.coord_headers)
    requests = {r["id"]: r for r in _of(lead, "ServiceRequest")}
    assert len(requests) == 2
    request = requests[referral["id"]]
    assert request["status"] == "active" and request["intent"] == "order"
    assert request["priority"] == "urgent"
    assert request["requester"] == {"reference": f"Organization/{hw.coord.id}"}
    assert request["performer"] == [{"reference": f"Organization/{hw.housing.id}"}]
    assert request["meta"]["source"] == f"urn:uuid:{hw.coord.id}"
    tasks = [t for t in _of(lead, "Task") if t["focus"]["reference"].endswith(referral["id"])]
    [task] = tasks
    assert task["status"] == "requested" and task["businessStatus"]["text"] == "submitted"
    assert task["owner"] == {"reference": f"Organization/{hw.housing.id}"}
    # the addressee sees its own referral, not the one to the third service, and is told
    # that a referral was withheld
    housing = _export(hw, hw.world.headers(hw.housing))
    assert [r["id"] for r in _of(housing, "ServiceRequest")] == [referral["id"]]
    assert any(
        t["code"] == "referrals" and t["display"].startswith("1 record(s) withheld")
        for t in housing["meta"]["tag"]
    )
    assert "Community MH" not in str(housing)
    # declined: the request is revoked, the task rejected; the addressee keeps a closed view
    res = hw.client.post(
        f"/api/v1/referrals/{referral['id']}/decline",
        json={"reason": "No capacity"},
        headers=hw.world.headers(hw.housing),
    )
    assert res.status_code == 200, res.text
    lead = _export(hw, hw.coord_headers)
    request = {r["id"]: r for r in _of(lead, "ServiceRequest")}[referral["id"]]
    assert request["status"] == "revoked"
    housing = _export(hw, hw.world.headers(hw.housing))
    [closed] = _of(housing, "ServiceRequest")
    assert closed["meta"]["security"][0]["code"] == "REDACTED"
    assert "reasonCode" not in closed and "Synthetic reason" not in str(housing)
    [task] = _of(housing, "Task")
    assert task["status"] == "rejected" and task["statusReason"]["text"] == "No capacity"


def test_consents_exported_without_their_private_notes(hw: HookWorld) -> None:
    hw.consent.notes = "Synthetic private note"
    hw.db.add(hw.consent)
    hw.db.commit()
    for headers in (hw.coord_headers, hw.world.headers(hw.housing)):
        bundle = _export(hw, headers)
        [consent] = _of(bundle, "Consent")
        assert consent["id"] == str(hw.consent.id) and consent["status"] == "active"
        assert consent["patient"] == {"reference": f"Patient/{hw.participant.id}"}
        assert [c["code"] for c in consent["provision"]["class"]] == ["appointments"]
        actors = [a["reference"]["reference"] for a in consent["provision"]["actor"]]
        assert actors == [f"Organization/{hw.housing.id}"]
        assert "Synthetic private note" not in str(bundle)
    hw.withdraw()
    [consent] = _of(_export(hw, hw.coord_headers), "Consent")
    assert consent["status"] == "inactive" and "end" in consent["provision"]["period"]


def test_export_audit_names_the_referral_category_disclosed(hw: HookWorld) -> None:
    _with_referrals(hw)
    hw.book()
    _export(hw, hw.world.headers(hw.housing))
    [event] = hw.db.exec(
        select(AccessEvent).where(
            AccessEvent.participant_id == hw.participant.id, AccessEvent.action == "export"
        )
    ).all()
    assert "referrals" in event.categories and "appointments" in event.categories


def _with_plan_and_screening(hw: HookWorld) -> None:
    goal = hw.client.post(
        f"{P}/{hw.participant.id}/plan/goals",
        json={"title": "Settle in", "horizon": "short_term_recovery", "life_domain": "housing"},
        headers=hw.coord_headers,
    )
    assert goal.status_code == 201, goal.text
    step = hw.client.post(
        f"{P}/{hw.participant.id}/plan/actions",
        json={
            "goal_id": goal.json()["id"],
            "description": "Visit the housing office",
            "owner_kind": "participant",
        },
        headers=hw.coord_headers,
    )
    assert step.status_code == 201, step.text
    screening = hw.client.post(
        f"{P}/{hw.participant.id}/screenings",
        json={"instrument": "PHQ-9", "responses": [1, 2, 1, 0, 3, 1, 2, 1, 0]},
        headers=hw.coord_headers,
    )
    assert screening.status_code == 201, screening.text


def test_plan_and_screenings_for_the_lead(hw: HookWorld) -> None:
    _with_plan_and_screening(hw)
    bundle = _export(hw, hw.coord_headers)
    [care_plan] = _of(bundle, "CarePlan")
    [goal] = _of(bundle, "Goal")
    assert care_plan["goal"] == [{"reference": f"Goal/{goal['id']}"}]
    assert care_plan["activity"][0]["detail"]["status"] == "not-started"
    assert goal["lifecycleStatus"] == "active" and goal["description"]["text"] == "Settle in"
    [answers] = _of(bundle, "QuestionnaireResponse")
    assert [i["answer"][0]["valueInteger"] for i in answers["item"]] == [1, 2, 1, 0, 3, 1, 2, 1, 0]
    [total] = _of(bundle, "Observation")
    assert total["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "44261-6",
        "display": "PHQ-9 total score",
    }
    assert total["valueInteger"] == 11
    assert total["derivedFrom"] == [{"reference": f"QuestionnaireResponse/{answers['id']}"}]


def test_plan_and_screenings_withheld_from_a_consent_recipient(hw: HookWorld) -> None:
    _with_plan_and_screening(hw)
    bundle = _export(hw, hw.world.headers(hw.housing))
    for kind in ("CarePlan", "Goal", "QuestionnaireResponse", "Observation"):
        assert _of(bundle, kind) == [], kind
    assert {"plan", "mental_health"} <= {t["code"] for t in bundle["meta"]["tag"]}
    assert "Settle in" not in str(bundle)


def test_the_person_and_a_referral_only_addressee_get_valid_bundles(hw: HookWorld) -> None:
    """The person's own export, and an organisation that only has a referral, answer
    valid Bundles of what they may see (the R4 schema check above covers them too when set)."""
    _with_records(hw)
    referral = _with_referrals(hw)
    me = hw.world.headers(hw.coord, "participant", participant_id=hw.participant.id)
    res = hw.client.get(f"{P}/{hw.participant.id}/fhir", headers=me)
    assert res.status_code == 200, res.text
    own = res.json()
    Bundle.model_validate(own)
    [patient] = _of(own, "Patient")
    assert {"system": NHS_NUMBER, "value": "9434765919"} in patient["identifier"]
    third = _of(_export(hw, hw.coord_headers), "ServiceRequest")
    [to_third] = [r for r in third if r["id"] != referral["id"]]
    org_id = to_third["performer"][0]["reference"].removeprefix("Organization/")
    org = hw.db.get(Organisation, uuid.UUID(org_id))
    bundle = _export(hw, hw.world.headers(org))
    assert [r["id"] for r in _of(bundle, "ServiceRequest")] == [to_third["id"]]
    # appointments by the protocol the referral needed; risk and identity are not shared
    assert len(_of(bundle, "Appointment")) == 1 and _of(bundle, "Flag") == []
    assert "risk" in {t["code"] for t in bundle["meta"]["tag"]}
    [patient] = _of(bundle, "Patient")
    assert patient["meta"]["security"][0]["code"] == "REDACTED" and "name" not in patient
    assert "9434765919" not in str(bundle) and "Synthetic note" not in str(bundle)
