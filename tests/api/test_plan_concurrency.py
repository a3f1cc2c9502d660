"""No lost update on the plan: concurrent PATCHes with one If-Match, one wins, one gets 412.

The PostgreSQL test uses real threads, real commits and two app clients (each with its own
event loop), so the two requests truly overlap in the database.
"""

import threading
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlmodel import Session, col, select

from app.core.db import get_engine
from app.main import app
from app.models.organisation import Organisation, OrgKind, Role, User
from app.models.participant import CareRole, CareTeamMember, Participant
from app.models.plan import Action, Goal, Plan
from app.models.sharing import LawfulBasis, SharingProtocol
from tests.fixtures import World

ROUNDS = 5


@pytest.fixture
def committed() -> Iterator[tuple[Session, World]]:
    """A session that really commits, and removes what it created.

    Its access events stay: the log is append-only (a trigger refuses deletes) and they
    name only synthetic ids, so the chain stays whole for the rest of the run.
    """
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
        for model in (Action, Goal, Plan, CareTeamMember):
            session.exec(delete(model).where(col(model.participant_id).in_(pids)))  # type: ignore[call-overload]
        session.exec(delete(Participant).where(col(Participant.id).in_(pids)))  # type: ignore[call-overload]
        session.exec(delete(SharingProtocol).where(col(SharingProtocol.source_org_id).in_(orgs)))  # type: ignore[call-overload]
        session.exec(delete(User).where(col(User.organisation_id).in_(orgs)))  # type: ignore[call-overload]
        session.exec(delete(Organisation).where(col(Organisation.id).in_(orgs)))  # type: ignore[call-overload]
        session.commit()
        session.close()


def _setup(session: Session, world: World) -> tuple[uuid.UUID, uuid.UUID, list[dict[str, str]]]:
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
    # Both organisations edit: the CMHT sees the coordinator's plan through this protocol.
    session.add(
        SharingProtocol(
            protocol_id=uuid.uuid4(),
            name="concurrency test",
            source_org_id=coord.id,
            recipient_org_id=cmht.id,
            categories=["plan"],
            purposes=["direct_care"],  # type: ignore[list-item]
            lawful_basis=LawfulBasis.public_task,
            effective_from=date(2020, 1, 1),
            approved_by="Synthetic IG lead",
            created_by="test",
        )
    )
    plan = Plan(participant_id=participant.id, source_org_id=coord.id)
    session.add(plan)
    session.flush()
    goal = Goal(
        plan_id=plan.id,
        participant_id=participant.id,
        source_org_id=coord.id,
        title="Secure a tenancy",
        horizon="short_term_recovery",  # type: ignore[arg-type]
        life_domain="housing",
        created_by="test",
    )  # type: ignore[arg-type]
    session.add(goal)
    session.flush()
    headers = [world.headers(coord, Role.practitioner), world.headers(cmht, Role.practitioner)]
    session.commit()
    return participant.id, goal.id, headers


@pytest.mark.postgres
def test_concurrent_goal_edits_with_one_etag(committed: tuple[Session, World]) -> None:
    session, world = committed
    pid, goal_id, headers = _setup(session, world)
    url = f"/api/v1/participants/{pid}/plan/goals/{goal_id}"
    clients = [TestClient(app), TestClient(app)]
    for round_no in range(ROUNDS):
        etag = f'"goal-{round_no + 1}"'
        barrier = threading.Barrier(2)
        results: list[Any] = [None, None]

        def edit(
            i: int,
            etag: str = etag,
            barrier: threading.Barrier = barrier,
            results: list[Any] = results,
        ) -> None:
            barrier.wait()
            results[i] = clients[i].patch(
                url,
                json={"title": f"Edit {round_no}-{i}"},
                headers={**headers[i], "If-Match": etag},
            )

        threads = [threading.Thread(target=edit, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 412], [r.text for r in results]
        winner = next(r for r in results if r.status_code == 200)
        read = clients[0].get(f"/api/v1/participants/{pid}/plan", headers=headers[0]).json()
        assert read["goals"][0]["title"] == winner.json()["title"]
        assert read["goals"][0]["version"] == round_no + 2
