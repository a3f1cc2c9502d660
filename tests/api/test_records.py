"""Risk alerts and screenings: recorded by practitioners, filtered by the sharing core."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.models.organisation import Organisation, OrgKind
from app.models.sharing import Consent, LawfulBasis
from tests.api.care_world import Care, assert_problem, build_care, protocol
from tests.fixtures import World


@pytest.fixture
def care(world: World, db: Session) -> Care:
    return build_care(world, db)


def alert(client: TestClient, care: Care, org: Organisation, **kw: Any) -> Any:
    body = {"kind": "self_harm", "level": "high", "notes": "Disclosed urges this week", **kw}
    return client.post(care.url("/alerts"), json=body, headers=care.headers(org))


def screen(client: TestClient, care: Care, org: Organisation, **kw: Any) -> Any:
    body = {"instrument": "PHQ-9", "responses": [2, 2, 2, 1, 1, 1, 1, 1, 1], **kw}
    return client.post(care.url("/screenings"), json=body, headers=care.headers(org))


class TestAlerts:
    def test_anonymous_scope_visibility(self, client: TestClient, care: Care) -> None:
        assert_problem(client.get(care.url("/alerts")), 401)
        headers = care.headers(care.coord, scope="participants:read")
        assert_problem(client.get(care.url("/alerts"), headers=headers), 403)
        assert_problem(client.get(care.url("/alerts"), headers=care.headers(care.housing)), 404)
        assert_problem(alert(client, care, care.housing), 404)
        assert_problem(alert(client, care, care.coord, kind="bad"), 422)

    def test_consent_protocol_withholds_until_consent(
        self, client: TestClient, care: Care, db: Session
    ) -> None:
        assert alert(client, care, care.coord).status_code == 201
        body = client.get(care.url("/alerts"), headers=care.headers(care.cmht)).json()
        assert body["items"] == []
        assert body["withheld"] == [{"category": "risk", "reason": "no_consent", "count": 1}]
        db.add(
            Consent(
                participant_id=care.pid,
                source_org_id=care.coord.id,
                categories=["risk"],
                recipient_org_ids=[],
                recipient_org_kinds=["community_mental_health"],
                purposes=["direct_care"],
                method="verbal",
                recorded_by="test",
            )
        )
        db.commit()
        body = client.get(care.url("/alerts"), headers=care.headers(care.cmht)).json()
        assert [a["kind"] for a in body["items"]] == ["self_harm"]
        event = care.events("risk_alert", care.cmht)[-1]
        assert event.basis[0]["basis"] == "consent" and event.categories == ["risk"]

    def test_vital_interests_protocol_shares_active_alerts_without_consent(
        self, client: TestClient, care: Care, db: Session
    ) -> None:
        protocol(
            db,
            OrgKind.care_coordination,
            OrgKind.peer_support,
            ["risk"],
            LawfulBasis.vital_interests,
        )
        db.commit()
        alert(client, care, care.coord, kind="suicide", level="very_high")
        body = client.get(care.url("/alerts?status=active"), headers=care.headers(care.peer)).json()
        assert [a["kind"] for a in body["items"]] == ["suicide"]

    def test_filters_do_not_reveal_hidden_alerts(self, client: TestClient, care: Care) -> None:
        """Withheld counts ignore content filters: filtering by status must not tell an
        organisation without a risk protocol how many hidden alerts are open or closed."""
        first = alert(client, care, care.coord, kind="self_harm").json()
        alert(client, care, care.coord, kind="suicide")
        closed = client.post(
            care.url(f"/alerts/{first['id']}/close"),
            json={"reason": "Reviewed and resolved."},
            headers=care.headers(care.coord),
        )
        assert closed.status_code == 200, closed.text
        counts = {}
        for status in ("active", "closed", None):
            url = care.url("/alerts" + (f"?status={status}" if status else ""))
            body = client.get(url, headers=care.headers(care.peer)).json()
            assert body["items"] == []
            counts[status] = body["withheld"]
        assert counts["active"] == counts["closed"] == counts[None]
        assert counts[None][0]["count"] == 2

    def test_participant_cannot_see_or_raise(self, client: TestClient, care: Care) -> None:
        alert(client, care, care.coord)
        body = client.get(care.url("/alerts"), headers=care.me()).json()
        assert body["items"] == []
        assert body["withheld"][0]["reason"] == "ask_your_practitioner"
        body = {"kind": "self_harm", "level": "high", "notes": "x"}
        assert_problem(client.post(care.url("/alerts"), json=body, headers=care.me()), 403)

    def test_close(self, client: TestClient, care: Care) -> None:
        raised = alert(client, care, care.coord).json()
        url = care.url(f"/alerts/{raised['id']}/close")
        assert_problem(client.post(url, json={"reason": "Settled"}), 401)
        # Not visible to the CMHT without consent: it does not exist for them.
        assert_problem(
            client.post(url, json={"reason": "Settled"}, headers=care.headers(care.cmht)), 404
        )
        assert_problem(client.post(url, json={}, headers=care.headers(care.coord)), 422)
        response = client.post(
            url, json={"reason": "Risk reduced after review"}, headers=care.headers(care.coord)
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "closed"
        assert_problem(
            client.post(url, json={"reason": "again"}, headers=care.headers(care.coord)), 409
        )
        active = client.get(
            care.url("/alerts?status=active"), headers=care.headers(care.coord)
        ).json()
        assert active["items"] == []


class TestScreenings:
    def test_anonymous_scope_visibility(self, client: TestClient, care: Care) -> None:
        assert_problem(client.get(care.url("/screenings")), 401)
        headers = care.headers(care.coord, scope="plans:read")
        assert_problem(client.get(care.url("/screenings"), headers=headers), 403)
        assert_problem(client.get(care.url("/screenings"), headers=care.headers(care.housing)), 404)

    def test_server_scores_and_refuses_client_totals(self, client: TestClient, care: Care) -> None:
        response = screen(client, care, care.coord)
        assert response.status_code == 201, response.text
        assert (response.json()["total"], response.json()["severity"]) == (12, "moderate")
        assert_problem(screen(client, care, care.coord, total=3), 422)
        assert_problem(screen(client, care, care.coord, severity="minimal"), 422)
        assert_problem(screen(client, care, care.coord, responses=[1] * 8), 422)
        assert_problem(
            screen(client, care, care.coord, instrument="GAD-7", responses=[4, 0, 0, 0, 0, 0, 0]),
            422,
        )
        assert_problem(screen(client, care, care.coord, instrument="BDI"), 422)
        core = screen(client, care, care.coord, instrument="CORE-10", responses=[4] * 10)
        assert core.json()["severity"] == "severe"

    def test_filtered_and_trend(self, client: TestClient, care: Care) -> None:
        for when, items in (("2025-01-01", [3] * 9), ("2025-02-01", [1] * 9)):
            screen(
                client, care, care.cmht, responses=items, administered_at=f"{when}T10:00:00+00:00"
            )
        assert_problem(
            screen(client, care, care.cmht, administered_at="2099-01-01T10:00:00+00:00"), 422
        )
        response = screen(client, care, care.cmht, administered_at="2024-01-01T10:00:00+00:00")
        assert response.status_code == 201
        trend = client.get(
            care.url("/screenings/trend?instrument=PHQ-9"), headers=care.headers(care.coord)
        ).json()
        # cmht -> coordination protocol covers mental_health: the coordinator sees them,
        # oldest first.
        assert [p["total"] for p in trend["points"]] == [12, 27, 9]
        assert trend["points"][1]["severity"] == "severe"
        # The peer organisation sees none of them, only the count.
        body = client.get(care.url("/screenings"), headers=care.headers(care.peer)).json()
        assert body["items"] == [] and body["withheld"][0]["count"] == 3
        assert care.events("screening", care.peer)[-1].withheld[0]["category"] == "mental_health"
        assert_problem(
            client.get(care.url("/screenings/trend"), headers=care.headers(care.coord)), 422
        )

    def test_trend_withheld_counts_do_not_depend_on_instrument(
        self, client: TestClient, care: Care
    ) -> None:
        """The peer organisation may see no screening: the trend of every instrument must
        give the same counts, or it tells which instruments the hidden screenings used."""
        screen(client, care, care.cmht)
        screen(client, care, care.cmht)
        screen(client, care, care.cmht, instrument="GAD-7", responses=[1] * 7)
        counts = {}
        for instrument in ("PHQ-9", "GAD-7", "CORE-10"):
            body = client.get(
                care.url(f"/screenings/trend?instrument={instrument}"),
                headers=care.headers(care.peer),
            ).json()
            assert body["points"] == []
            counts[instrument] = body["withheld"]
        assert counts["PHQ-9"] == counts["GAD-7"] == counts["CORE-10"]
        assert counts["CORE-10"] == [
            {"category": "mental_health", "reason": "no_protocol", "count": 3}
        ]
        listed = client.get(care.url("/screenings"), headers=care.headers(care.peer)).json()
        assert listed["withheld"] == counts["PHQ-9"]
        event = care.events("screening_trend", care.peer)[-1]
        assert event.withheld == [{"category": "mental_health", "reason": "no_protocol"}]
        # Someone who may see them still gets only the instrument asked for.
        gad = client.get(
            care.url("/screenings/trend?instrument=GAD-7"), headers=care.headers(care.coord)
        ).json()
        assert len(gad["points"]) == 1 and gad["withheld"] == []
