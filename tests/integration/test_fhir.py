"""FHIR export: a Bundle of exactly what the caller may see, withheld data marked, audited.

Bundles are checked by the app against the `fhir.resources` R4B models; here every one is
checked again against them and for what it must and must not contain.
"""

from typing import Any

from fhir.resources.R4B.bundle import Bundle
from sqlmodel import select

from app.models.audit import AccessEvent
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
    """The official R4 JSON schema (hl7.org/fhir/R4/fhir.schema.json), where provided."""
    import json
    import os
    from pathlib import Path

    import pytest

    path = os.environ.get("THROUGHCARE_FHIR_R4_SCHEMA")
    if not path or not Path(path).is_file():
        pytest.skip(
            "the official FHIR R4 fhir.schema.json is not vendored in this repository: "
            "set THROUGHCARE_FHIR_R4_SCHEMA to a copy to validate against it"
        )
    return json.loads(Path(path).read_text())


def test_bundles_validate_against_the_official_r4_schema(hw: HookWorld) -> None:
    import jsonschema_rs

    validator = jsonschema_rs.Draft6Validator(_r4_schema())
    _with_records(hw)
    for headers in (hw.coord_headers, hw.world.headers(hw.housing)):
        bundle = _export(hw, headers)
        errors = [str(e) for e in validator.iter_errors(bundle)]
        assert errors == []


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
