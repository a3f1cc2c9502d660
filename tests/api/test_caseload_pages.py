"""Caseload lists are driven from the organisation's relationships: every visible person
exactly once across pages, nobody else, and plans that never walk a whole table."""

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import Session

from app.models.base import utcnow
from app.models.organisation import OrgKind
from app.models.participant import CareRole, CareTeamMember, Participant, Phase
from app.models.referral import Referral, ReferralStatus, Urgency
from tests.api.referral_world import add_participant, add_protocol
from tests.fixtures import World


def _member(db: Session, person: Participant, org: Any, **kw: Any) -> None:
    db.add(
        CareTeamMember(
            participant_id=person.id,
            organisation_id=org.id,
            role=kw.pop("role", CareRole.contributor),
            source_org_id=person.source_org_id,
            added_by="test",
            **kw,
        )
    )


def _referral(db: Session, person: Participant, src: Any, to: Any, status: ReferralStatus) -> None:
    db.add(
        Referral(
            participant_id=person.id,
            from_org_id=src.id,
            to_org_id=to.id,
            reason="Synthetic example",
            urgency=Urgency.routine,
            categories=["identity", "custody"],
            status=status,
            created_by="test",
        )
    )


@pytest.fixture
def caseload(world: World, db: Session) -> dict[str, Any]:
    """Probation's relationships of every kind, plus people related in ways that lapse."""
    coord = world.org("Coordination", OrgKind.care_coordination)
    probation = world.org("Probation", OrgKind.probation)
    add_protocol(db, OrgKind.care_coordination, OrgKind.probation, ["identity", "custody"])
    now = utcnow()
    visible, hidden = [], []
    for i in range(5):  # a member in force, twice over for some (lead and contributor)
        p = add_participant(db, coord, release_in_days=3 + i, phase=Phase.pre_release)
        _member(db, p, probation)
        if i % 2 == 0:
            _member(db, p, probation, role=CareRole.lead)
        visible.append(p)
    for status in (ReferralStatus.submitted, ReferralStatus.accepted, ReferralStatus.in_progress):
        p = add_participant(db, coord, release_in_days=5)
        _referral(db, p, coord, probation, status)
        _member(db, p, probation) if status == ReferralStatus.accepted else None
        visible.append(p)
    for _ in range(2):  # probation's own records
        visible.append(add_participant(db, probation, release_in_days=6))
    p = add_participant(db, coord)
    _member(db, p, probation, since=now - timedelta(days=9), until=now - timedelta(days=1))
    hidden.append(p)
    p = add_participant(db, coord)
    _member(db, p, probation, since=now + timedelta(days=2))
    hidden.append(p)
    for status in (ReferralStatus.draft, ReferralStatus.completed, ReferralStatus.declined):
        p = add_participant(db, coord)
        _referral(db, p, coord, probation, status)
        hidden.append(p)
    db.commit()
    return {
        "headers": world.headers(probation),
        "visible": {str(p.id) for p in visible},
        "hidden": {str(p.id) for p in hidden},
    }


def _all_pages(
    client: TestClient, path: str, headers: dict[str, str], key: str, **query: Any
) -> list[Any]:
    seen: list[Any] = []
    cursor = None
    for _ in range(50):
        params = {**query, "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get(path, params=params, headers=headers).json()
        seen.extend(item[key] if key else item for item in body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            return seen
    raise AssertionError("pagination did not end")


def test_caseload_pages_list_each_related_person_once(client: TestClient, caseload: Any) -> None:
    seen = _all_pages(client, "/api/v1/participants", caseload["headers"], "id")
    assert len(seen) == len(set(seen))
    assert set(seen) == caseload["visible"]
    assert seen == sorted(seen)  # stable order, by id


def test_phase_filter_pages_through_relationships(client: TestClient, caseload: Any) -> None:
    seen = _all_pages(
        client, "/api/v1/participants", caseload["headers"], "id", phase="pre_release"
    )
    assert len(seen) == len(set(seen)) == 5 and set(seen) < caseload["visible"]


def test_release_list_pages_in_date_order_without_repeats(
    client: TestClient, caseload: Any
) -> None:
    path = "/api/v1/caseload/releases"
    rows = _all_pages(client, path, caseload["headers"], "", within_days=30)
    seen = [r["participant_id"] for r in rows]
    # everyone related is in custody, due within 30 days, custody visible to probation
    assert len(seen) == len(set(seen)) and set(seen) == caseload["visible"]
    dates = [r["release_date"] for r in rows]
    assert dates == sorted(dates)


# SQLite spells out full-table walks ("SCAN participants ...") and whole-set sorts
# ("USE TEMP B-TREE FOR ORDER BY") in EXPLAIN QUERY PLAN; PostgreSQL's choice depends on
# statistics of tiny test tables, so its plans are checked by the bench at 1M.
FULL_WALK = re.compile(r"^SCAN (participants|care_team_members|referrals)\b")


def _plans(db: Session, client: TestClient, path: str, headers: dict[str, str]) -> list[str]:
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "LIMIT" in statement:
            captured.append((statement, params))

    engine = db.get_bind().engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        assert client.get(path, headers=headers).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert captured
    conn = db.connection()
    return [
        "\n".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
        for sql, params in captured
    ]


@pytest.mark.parametrize(
    "path",
    ["/api/v1/participants?limit=2", "/api/v1/caseload/releases?limit=2"],
)
def test_caseload_queries_start_from_the_organisation(
    db: Session, client: TestClient, caseload: Any, path: str
) -> None:
    if db.get_bind().dialect.name != "sqlite":
        pytest.skip("plan shape checked by the bench on PostgreSQL (statistics-dependent)")
    for plan in _plans(db, client, path, caseload["headers"]):
        walks = [line for line in plan.splitlines() if FULL_WALK.match(line.strip())]
        assert not walks, plan


def test_inbox_query_walks_the_organisation_index_in_order(
    db: Session, client: TestClient, caseload: Any
) -> None:
    if db.get_bind().dialect.name != "sqlite":
        pytest.skip("plan shape checked by the bench on PostgreSQL (statistics-dependent)")
    path = "/api/v1/referrals?box=inbox&limit=2"
    for plan in _plans(db, client, path, caseload["headers"]):
        if "referrals" in plan:
            assert "TEMP B-TREE FOR ORDER BY" not in plan, plan
            assert not FULL_WALK.search(plan), plan
