"""50 concurrent retries with one Idempotency-Key create exactly one referral (PostgreSQL).

Real commits and real concurrency: each thread has its own TestClient on the app's own
engine (no rolled-back test session), so the database's unique constraint decides.
"""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlmodel import Session, col, func, select

from app.auth.issue import token_for_client
from app.core.db import get_engine
from app.main import app
from app.models.idempotency import IdempotencyRecord
from app.models.organisation import ApiClient, Organisation, OrgKind
from app.models.participant import CareTeamMember, Participant
from app.models.referral import Referral, ReferralTransition
from app.models.sharing import SharingProtocol
from tests.api.referral_world import URL, add_participant, add_protocol
from tests.fixtures import FAST_HASH

N = 50


def _setup(session: Session) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    tag = uuid.uuid4().hex[:8]
    coord = Organisation(name=f"Concurrency coord {tag}", kind=OrgKind.care_coordination)
    housing = Organisation(name=f"Concurrency housing {tag}", kind=OrgKind.housing)
    session.add_all([coord, housing])
    session.flush()
    participant = add_participant(session, coord)
    protocol = add_protocol(session, OrgKind.care_coordination, OrgKind.housing, ["identity"])
    partner = ApiClient(
        name="partner",
        scopes=["participants:read", "referrals:read", "referrals:write"],
        organisation_id=coord.id,
        client_id=f"tc_{tag}",
        secret_hash=FAST_HASH,
    )
    session.add(partner)
    session.commit()
    token = token_for_client(partner, coord).access_token
    body = {
        "participant_id": str(participant.id),
        "to_org_id": str(housing.id),
        "reason": "Needs accommodation on release.",
        "urgency": "urgent",
        "categories": ["identity"],
        "submit": True,
    }
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"race-{tag}"}
    ids = {
        "orgs": [coord.id, housing.id],
        "participant": participant.id,
        "protocol": protocol.row_id,
        "client": partner.id,
        "owner": f"client:{partner.client_id}",
    }
    return body, headers, ids


def _cleanup(session: Session, ids: dict[str, Any]) -> None:
    pid = ids["participant"]
    referral_ids = select(Referral.id).where(Referral.participant_id == pid)
    session.execute(
        delete(ReferralTransition).where(col(ReferralTransition.referral_id).in_(referral_ids))
    )
    session.execute(delete(Referral).where(col(Referral.participant_id) == pid))
    session.execute(delete(IdempotencyRecord).where(col(IdempotencyRecord.owner) == ids["owner"]))
    session.execute(delete(CareTeamMember).where(col(CareTeamMember.participant_id) == pid))
    session.execute(delete(Participant).where(col(Participant.id) == pid))
    session.execute(delete(SharingProtocol).where(col(SharingProtocol.row_id) == ids["protocol"]))
    session.execute(delete(ApiClient).where(col(ApiClient.id) == ids["client"]))
    session.execute(delete(Organisation).where(col(Organisation.id).in_(ids["orgs"])))
    session.commit()


@pytest.mark.postgres
def test_fifty_concurrent_retries_create_one_referral() -> None:
    with Session(get_engine(), expire_on_commit=False) as session:
        body, headers, ids = _setup(session)
    barrier = threading.Barrier(N)

    def submit(_: int) -> tuple[int, str | None, bool]:
        with TestClient(app, raise_server_exceptions=False) as client:
            barrier.wait(timeout=60)
            res = client.post(URL, json=body, headers=headers)
            replayed = res.headers.get("Idempotent-Replayed") == "true"
            return res.status_code, res.json().get("id"), replayed

    try:
        with ThreadPoolExecutor(max_workers=N) as pool:
            results = list(pool.map(submit, range(N)))
        with Session(get_engine()) as session:
            count = session.exec(
                select(func.count())
                .select_from(Referral)
                .where(Referral.participant_id == ids["participant"])
            ).one()
        assert count == 1
        assert {status for status, _, _ in results} == {201}, results
        assert len({rid for _, rid, _ in results}) == 1
        assert sum(1 for *_, replayed in results if not replayed) == 1
    finally:
        with Session(get_engine()) as session:
            _cleanup(session, ids)
