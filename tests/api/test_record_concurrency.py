"""No lost update on any versioned record, with real threads and commits on PostgreSQL.

Each test sends concurrent requests carrying one If-Match (or, for the plan, concurrent
first goals): exactly one write per tag wins, the others answer 412, nothing answers 500,
and the record ends with every winning change and a version that counted each of them.
"""

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlmodel import Session, col, select

from app.core.db import get_engine
from app.main import app
from app.models.appointment import Appointment
from app.models.notice import Notice
from app.models.organisation import Organisation, OrgKind, Role, User
from app.models.participant import CareRole, CareTeamMember, Participant
from app.models.plan import Action, Goal, Plan, PlanVersion, Review
from app.models.sharing import LawfulBasis, SharingProtocol
from tests.fixtures import World

pytestmark = pytest.mark.postgres


@pytest.fixture
def committed() -> Iterator[tuple[Session, World]]:
    """A session that really commits, and removes what it created (access events stay:
    the log is append-only and names only synthetic ids)."""
    session = Session(get_engine(), expire_on_commit=False)
    world = World(session)
    try:
        yield session, world
    finally:
        session.rollback()
        orgs = [o.id for o in world.orgs.values()]
        pids = list(
            session.exec(
                select(Participant.id).where(col(Participant.source_org_id).in_(orgs))
            ).all()
        )
        for model in (PlanVersion, Review, Action, Goal, Plan, Appointment, CareTeamMember):
            session.exec(delete(model).where(col(model.participant_id).in_(pids)))  # type: ignore[call-overload]
        session.exec(delete(Notice).where(col(Notice.organisation_id).in_(orgs)))  # type: ignore[call-overload]
        session.exec(delete(Participant).where(col(Participant.id).in_(pids)))  # type: ignore[call-overload]
        session.exec(delete(SharingProtocol).where(col(SharingProtocol.source_org_id).in_(orgs)))  # type: ignore[call-overload]
        session.exec(delete(User).where(col(User.organisation_id).in_(orgs)))  # type: ignore[call-overload]
        session.exec(delete(Organisation).where(col(Organisation.id).in_(orgs)))  # type: ignore[call-overload]
        session.commit()
        session.close()


def _setup(session: Session, world: World) -> tuple[uuid.UUID, list[dict[str, str]]]:
    """A participant led by coordination with the CMHT contributing; both see each other's
    plan, appointments and the participant's identity and contact."""
    coord = world.org("Coordination", OrgKind.care_coordination)
    cmht = world.org("CMHT", OrgKind.community_mental_health)
    participant = Participant(given_name="Sam", family_name="Example", source_org_id=coord.id)
    session.add(participant)
    session.flush()
    for org, role in ((coord, CareRole.lead), (cmht, CareRole.contributor)):
        session.add(
            CareTeamMember(
                participant_id=participant.id,
                organisation_id=org.id,
                role=role,
                source_org_id=coord.id,
                added_by="test",
            )
        )
    for source, recipient in ((coord, cmht), (cmht, coord)):
        session.add(
            SharingProtocol(
                protocol_id=uuid.uuid4(),
                name="concurrency test",
                source_org_id=source.id,
                recipient_org_id=recipient.id,
                categories=["identity", "contact", "plan", "appointments"],
                purposes=["direct_care"],  # type: ignore[list-item]
                lawful_basis=LawfulBasis.public_task,
                effective_from=datetime(2020, 1, 1).date(),
                approved_by="Synthetic IG lead",
                created_by="test",
            )
        )
    session.flush()
    headers = [world.headers(coord, Role.practitioner), world.headers(cmht, Role.practitioner)]
    session.commit()
    return participant.id, headers


def _race(n: int, send: Callable[[TestClient, int], Any]) -> list[Any]:
    """Send `n` requests at once, each from its own client (own event loop) and thread."""
    clients = [TestClient(app, raise_server_exceptions=False) for _ in range(n)]
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        results[i] = send(clients[i], i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def _one_winner(results: list[Any]) -> Any:
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [412] * (len(results) - 1), [r.text for r in results]
    return next(r for r in results if r.status_code == 200)


def test_concurrent_participant_patches_with_one_etag(committed: tuple[Session, World]) -> None:
    session, world = committed
    pid, headers = _setup(session, world)
    url = f"/api/v1/participants/{pid}"
    reader = TestClient(app)
    for round_no in range(3):
        etags = [reader.get(url, headers=h).headers["ETag"] for h in headers]
        results = _race(
            2,
            lambda c, i: c.patch(
                url,
                json={"phone": f"07700 90{round_no}00{i}"},
                headers={**headers[i], "If-Match": etags[i]},
            ),
        )
        winner = _one_winner(results)
        read = reader.get(url, headers=headers[0]).json()
        assert read["phone"] == winner.json()["phone"]
        assert read["version"] == round_no + 2


def test_ten_concurrent_first_goals(committed: tuple[Session, World]) -> None:
    session, world = committed
    pid, headers = _setup(session, world)
    url = f"/api/v1/participants/{pid}/plan/goals"
    results = _race(
        10,
        lambda c, i: c.post(
            url,
            json={
                "title": f"Goal {i}",
                "horizon": "short_term_recovery",
                "life_domain": "housing",
            },
            headers=headers[i % 2],
        ),
    )
    assert sorted(r.status_code for r in results) == [201] * 10, [r.text for r in results]
    plan = TestClient(app).get(f"/api/v1/participants/{pid}/plan", headers=headers[0]).json()
    assert len(plan["goals"]) == 10
    # The plan was created once and counted every goal (it starts at 1).
    assert plan["version"] == 11
    session.expire_all()
    assert len(session.exec(select(Plan).where(Plan.participant_id == pid)).all()) == 1


def test_concurrent_step_updates_with_one_etag(committed: tuple[Session, World]) -> None:
    session, world = committed
    pid, headers = _setup(session, world)
    reader = TestClient(app)
    base = f"/api/v1/participants/{pid}/plan"
    goal = reader.post(
        f"{base}/goals",
        json={"title": "Tenancy", "horizon": "short_term_recovery", "life_domain": "housing"},
        headers=headers[0],
    ).json()
    step = reader.post(
        f"{base}/actions",
        json={
            "goal_id": goal["id"],
            "description": "Ring the council",
            "owner_kind": "participant",
        },
        headers=headers[0],
    ).json()
    url = f"{base}/actions/{step['id']}"
    etag = step["etag"]
    for round_no in range(3):
        # Both from the lead organisation: only it updates a step it does not own.
        results = _race(
            2,
            lambda c, i: c.patch(
                url,
                json={"description": f"Edit {round_no}-{i}"},
                headers={**headers[0], "If-Match": etag},
            ),
        )
        winner = _one_winner(results)
        etag = winner.headers["ETag"]
        read = reader.get(base, headers=headers[0]).json()
        [seen] = read["goals"][0]["actions"]
        assert seen["description"] == winner.json()["description"]
        assert seen["version"] == round_no + 2


def test_concurrent_appointment_updates_with_one_etag(committed: tuple[Session, World]) -> None:
    session, world = committed
    pid, headers = _setup(session, world)
    reader = TestClient(app)
    starts = datetime.now(UTC) + timedelta(days=2)
    booked = reader.post(
        f"/api/v1/participants/{pid}/appointments",
        json={
            "kind": "one_to_one",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=1)).isoformat(),
            "with_org_id": None,
        },
        headers=headers[0],
    )
    assert booked.status_code == 201, booked.text
    url = f"/api/v1/participants/{pid}/appointments/{booked.json()['id']}"
    etag = booked.headers["ETag"]
    for round_no in range(3):
        results = _race(
            2,
            lambda c, i: c.patch(
                url,
                json={"notes": f"Note {round_no}-{i}"},
                headers={**headers[0], "If-Match": etag},
            ),
        )
        winner = _one_winner(results)
        etag = winner.headers["ETag"]
        listed = reader.get(f"/api/v1/participants/{pid}/appointments", headers=headers[0])
        [seen] = listed.json()["items"]
        assert seen["notes"] == winner.json()["notes"] and seen["version"] == round_no + 2
