"""Case notes: one category each, disclosed only through the gate, amended by new versions."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.models.organisation import Organisation
from app.models.sharing import Consent
from tests.api.care_world import Care, assert_problem, build_care
from tests.fixtures import World


@pytest.fixture
def care(world: World, db: Session) -> Care:
    return build_care(world, db)


def write(client: TestClient, care: Care, org: Organisation, **kw: Any) -> Any:
    body = {
        "kind": "meeting",
        "category": "mental_health",
        "occurred_on": "2026-11-20",
        "text": "Talked through low mood since the move.",
        **kw,
    }
    return client.post(care.url("/notes"), json=body, headers=care.headers(org))


def listed(client: TestClient, care: Care, headers: dict[str, str], query: str = "") -> Any:
    response = client.get(care.url("/notes" + query), headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


class TestWriteAndRead:
    def test_anonymous_scope_visibility_and_bad_input(self, client: TestClient, care: Care) -> None:
        assert_problem(client.get(care.url("/notes")), 401)
        headers = care.headers(care.coord, scope="participants:read")
        assert_problem(client.get(care.url("/notes"), headers=headers), 403)
        assert_problem(client.get(care.url("/notes"), headers=care.headers(care.housing)), 404)
        assert_problem(write(client, care, care.housing), 404)
        assert_problem(write(client, care, care.coord, category="gossip"), 422)
        assert_problem(write(client, care, care.coord, kind="text_message"), 422)
        assert_problem(write(client, care, care.coord, source_org_id=str(care.cmht.id)), 422)
        assert_problem(write(client, care, care.coord, text=""), 422)
        assert listed(client, care, care.headers(care.coord))["items"] == []

    def test_author_org_is_source_and_reads_its_own(self, client: TestClient, care: Care) -> None:
        created = write(client, care, care.cmht)
        assert created.status_code == 201, created.text
        note = created.json()
        assert note["source_org_id"] == str(care.cmht.id) and note["version"] == 1
        assert created.headers["ETag"] == '"note-1"'
        got = client.get(care.url(f"/notes/{note['id']}"), headers=care.headers(care.cmht))
        assert got.status_code == 200 and got.json()["text"] == note["text"]
        event = care.events("case_note", care.cmht)[-1]
        assert (event.action, event.outcome, event.categories) == (
            "read",
            "allowed",
            ["mental_health"],
        )
        assert event.basis[0]["basis"] == "own_record"

    def test_withheld_without_consent_and_audited(
        self, client: TestClient, care: Care, db: Session
    ) -> None:
        """The CMHT sees coordination's plan notes (protocol) but its mental-health notes
        only with consent; the withheld note does not exist for it (404)."""
        secret = write(client, care, care.coord).json()
        plan = write(client, care, care.coord, category="plan", text="Agreed the housing step.")
        assert plan.status_code == 201
        body = listed(client, care, care.headers(care.cmht))
        assert [n["text"] for n in body["items"]] == ["Agreed the housing step."]
        assert body["withheld"] == [
            {"category": "mental_health", "reason": "no_consent", "count": 1}
        ]
        event = care.events("case_note", care.cmht)[-1]
        assert event.categories == ["plan"] and event.outcome == "allowed"
        url = care.url(f"/notes/{secret['id']}")
        assert_problem(client.get(url, headers=care.headers(care.cmht)), 404)
        denied = care.events("case_note", care.cmht)[-1]
        assert denied.outcome == "denied" and denied.resource_id == secret["id"]
        assert denied.withheld == [{"category": "mental_health", "reason": "no_consent"}]
        db.add(
            Consent(
                participant_id=care.pid,
                source_org_id=care.coord.id,
                categories=["mental_health"],
                recipient_org_ids=[],
                recipient_org_kinds=["community_mental_health"],
                purposes=["direct_care"],
                method="verbal",
                recorded_by="test",
            )
        )
        db.commit()
        assert client.get(url, headers=care.headers(care.cmht)).status_code == 200
        assert care.events("case_note", care.cmht)[-1].basis[0]["basis"] == "consent"

    def test_peer_sees_plan_notes_only(self, client: TestClient, care: Care) -> None:
        write(client, care, care.coord, category="plan", text="Step agreed")
        write(client, care, care.coord, category="substance_use", text="Relapse risk")
        body = listed(client, care, care.headers(care.peer))
        assert [n["text"] for n in body["items"]] == ["Step agreed"]
        assert [w["category"] for w in body["withheld"]] == ["substance_use"]

    def test_participant_sees_self_service_categories_only(
        self, client: TestClient, care: Care
    ) -> None:
        write(client, care, care.coord, category="plan", text="We agreed the plan together.")
        hidden = write(client, care, care.coord, text="Clinical impression").json()
        body = listed(client, care, care.me())
        assert [n["text"] for n in body["items"]] == ["We agreed the plan together."]
        assert body["withheld"][0]["category"] == "mental_health"
        assert_problem(client.get(care.url(f"/notes/{hidden['id']}"), headers=care.me()), 404)
        body = {"kind": "other", "category": "plan", "occurred_on": "2026-11-20", "text": "x"}
        # A participant token carries no records:write (and the rule refuses it anyway).
        assert_problem(client.post(care.url("/notes"), json=body, headers=care.me()), 403)

    def test_search_by_kind_and_date_and_paging(self, client: TestClient, care: Care) -> None:
        for day, kind in [("2026-11-01", "phone_call"), ("2026-11-10", "meeting")]:
            write(client, care, care.coord, kind=kind, occurred_on=day, text=f"{kind} {day}")
        write(client, care, care.coord, kind="letter", occurred_on="2026-11-20", text="letter")
        headers = care.headers(care.coord)
        texts = [n["text"] for n in listed(client, care, headers)["items"]]
        assert texts == ["letter", "meeting 2026-11-10", "phone_call 2026-11-01"]
        only = listed(client, care, headers, "?kind=phone_call")["items"]
        assert [n["text"] for n in only] == ["phone_call 2026-11-01"]
        window = listed(client, care, headers, "?from=2026-11-05&to=2026-11-15")["items"]
        assert [n["text"] for n in window] == ["meeting 2026-11-10"]
        first = listed(client, care, headers, "?limit=2")
        assert len(first["items"]) == 2 and first["next_cursor"]
        rest = listed(client, care, headers, f"?limit=2&cursor={first['next_cursor']}")
        assert [n["text"] for n in rest["items"]] == ["phone_call 2026-11-01"]
        assert rest["next_cursor"] is None
        assert_problem(client.get(care.url("/notes?from=yesterday"), headers=headers), 422)


class TestAmend:
    def test_amendment_keeps_the_old_version(self, client: TestClient, care: Care) -> None:
        note = write(client, care, care.coord, category="plan", text="First wording").json()
        url = care.url(f"/notes/{note['id']}")
        change = {"text": "Corrected wording", "reason": "Typo in the date of the meeting"}
        headers = care.headers(care.coord)
        assert_problem(client.patch(url, json=change, headers=headers), 428)
        stale = {**headers, "If-Match": '"note-7"'}
        assert_problem(client.patch(url, json=change, headers=stale), 412)
        assert_problem(
            client.patch(url, json={"reason": "nothing"}, headers={**headers, "If-Match": "*"}),
            422,
        )
        fresh = {**headers, "If-Match": '"note-1"'}
        amended = client.patch(url, json=change, headers=fresh)
        assert amended.status_code == 200, amended.text
        assert amended.json()["version"] == 2 and amended.headers["ETag"] == '"note-2"'
        assert client.get(url, headers=headers).json()["text"] == "Corrected wording"
        history = client.get(url + "/versions", headers=headers).json()
        assert [(v["version"], v["text"], v["reason"]) for v in history["items"]] == [
            (1, "First wording", None),
            (2, "Corrected wording", "Typo in the date of the meeting"),
        ]
        # The same If-Match again is stale now: a lost update is impossible.
        assert_problem(client.patch(url, json=change, headers=fresh), 412)

    def test_only_the_author_org_amends(self, client: TestClient, care: Care) -> None:
        note = write(client, care, care.coord, category="plan", text="Coordination's note").json()
        url = care.url(f"/notes/{note['id']}")
        change = {"text": "Rewritten by another agency", "reason": "We disagree"}
        refused = client.patch(
            url, json=change, headers=care.headers(care.cmht, **{"If-Match": '"note-1"'})
        )
        assert_problem(refused, 403)
        event = care.events("case_note", care.cmht)[-1]
        assert event.outcome == "denied" and event.withheld[0]["reason"] == "not_author_org"
        assert client.get(url, headers=care.headers(care.coord)).json()["version"] == 1
        hidden = write(client, care, care.coord, text="mh").json()
        assert_problem(
            client.patch(
                care.url(f"/notes/{hidden['id']}"),
                json=change,
                headers=care.headers(care.cmht, **{"If-Match": "*"}),
            ),
            404,
        )

    def test_reclassified_note_hides_its_old_versions_too(
        self, client: TestClient, care: Care
    ) -> None:
        """Moving a note into a withheld category hides it and its history from the CMHT."""
        note = write(client, care, care.coord, category="plan", text="Mentions a diagnosis").json()
        url = care.url(f"/notes/{note['id']}")
        assert client.get(url, headers=care.headers(care.cmht)).status_code == 200
        change = {"category": "mental_health", "reason": "Clinical content, misfiled as plan"}
        headers = care.headers(care.coord, **{"If-Match": '"note-1"'})
        assert client.patch(url, json=change, headers=headers).status_code == 200
        assert_problem(client.get(url, headers=care.headers(care.cmht)), 404)
        assert_problem(client.get(url + "/versions", headers=care.headers(care.cmht)), 404)
        assert listed(client, care, care.headers(care.cmht))["items"] == []
        history = client.get(url + "/versions", headers=care.headers(care.coord)).json()
        assert [v["category"] for v in history["items"]] == ["plan", "mental_health"]

    def test_old_version_in_a_withheld_category_is_counted_not_shown(
        self, client: TestClient, care: Care
    ) -> None:
        note = write(client, care, care.coord, text="Clinical detail").json()
        url = care.url(f"/notes/{note['id']}")
        change = {"category": "plan", "text": "Plan only", "reason": "Clinical detail removed"}
        headers = care.headers(care.coord, **{"If-Match": '"note-1"'})
        assert client.patch(url, json=change, headers=headers).status_code == 200
        history = client.get(url + "/versions", headers=care.headers(care.cmht)).json()
        assert [v["text"] for v in history["items"]] == ["Plan only"]
        assert history["withheld"] == [
            {"category": "mental_health", "reason": "no_consent", "count": 1}
        ]
