"""Building the person's restrictions (and their objections' outcomes) into oracle worlds."""

import uuid

from fastapi.testclient import TestClient

from app.models.organisation import Role
from tests.sharing.harness import API, Built
from tests.sharing.oracle import ParticipantFacts, RestrictionFact

RESTRICTION_STATES = ["pending", "pending", "lifted", "upheld", "not_upheld"]


def add_restriction(
    client: TestClient,
    built: Built,
    p: ParticipantFacts,
    categories: set[str],
    target: tuple[str, object],
    state: str,
    by_person: bool,
) -> None:
    """POST a restriction (by the care team or the person), then lift it or have the lead
    organisation's information-governance lead decide its objection, as `state` says."""
    source_index = built.facts.index(p.source)
    headers = (
        built.participant_headers(source_index, p.id)
        if by_person
        else built.actors[source_index].headers
    )
    body: dict[str, object] = {"categories": sorted(categories)}
    fact_target: dict[str, object] = {}
    if target[0] == "org":
        org = built.facts[int(str(target[1]))]
        body |= {"target": "organisation", "target_org_id": str(org.id)}
        fact_target = {"org_id": org.id}
    elif target[0] == "kind":
        body |= {"target": "org_kind", "target_org_kind": target[1]}
        fact_target = {"org_kind": target[1]}
    else:
        body |= {"target": "outside_lead"}
        fact_target = {"outside_lead": True}
    r = client.post(f"{API}/{p.id}/restrictions", json=body, headers=headers)
    assert r.status_code == 201, r.text
    created = r.json()
    lifted, objection = False, "pending"
    if state == "lifted":
        lift = client.post(
            f"{API}/{p.id}/restrictions/{created['id']}/lift",
            json={"reason": "Synthetic: the person changed their mind"},
            headers=headers,
        )
        assert lift.status_code == 200, lift.text
        lifted = True
    elif state in {"upheld", "not_upheld"}:
        lead = built.actor(source_index, Role.governance_lead)
        d = client.post(
            f"/api/v1/objections/{created['objection_id']}/decide",
            json={"outcome": state, "reason": "Synthetic governance decision"},
            headers=lead.headers,
        )
        if d.status_code == 200:
            objection = state
        else:
            # Only a lead organisation's governance lead decides; an ended lead cannot.
            assert d.status_code == 403, d.text
    p.restrictions.append(
        RestrictionFact(
            categories=frozenset(categories),
            lifted=lifted,
            objection=objection,
            **fact_target,  # type: ignore[arg-type]
        )
    )
    built.log.append(
        f"  restriction {uuid.UUID(created['id'])} {body} by_person={by_person} -> "
        f"lifted={lifted} objection={objection}"
    )
