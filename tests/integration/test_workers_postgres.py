"""Two workers on PostgreSQL claim deliveries with FOR UPDATE SKIP LOCKED: every event
reaches the receiver exactly once, however their rounds interleave."""

import threading
import time
import uuid
from collections import Counter

import pytest
from sqlalchemy import delete
from sqlmodel import Session, col, select
from standardwebhooks import Webhook

from app.core.db import get_engine
from app.core.settings import get_settings
from app.models.events import DomainEvent, WebhookDelivery, WebhookSubscription
from app.models.organisation import Organisation, OrgKind
from app.services import secret_box
from app.services.webhooks import new_secret
from app.services.worker import run_once
from tests.integration.world import Receiver

EVENTS = 24


_PROCESS_WORKER = """
import time
from app.services.worker import run_once
idle = 0
start = time.monotonic()
while idle < 5 and time.monotonic() - start < 60:
    idle = idle + 1 if run_once() == 0 else 0
    time.sleep(0.01)
"""


def _in_processes() -> None:
    """Two `throughcare worker` processes (each its own engine and connections)."""
    import subprocess
    import sys

    procs = [subprocess.Popen([sys.executable, "-c", _PROCESS_WORKER]) for _ in range(2)]
    for proc in procs:
        assert proc.wait(90) == 0


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_two_workers_never_double_deliver(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("THROUGHCARE_WORKER_BATCH_SIZE", "3")
    get_settings.cache_clear()
    engine = get_engine()
    with Session(engine, expire_on_commit=False) as s:
        org = Organisation(name=f"Workers {uuid.uuid4().hex[:6]}", kind=OrgKind.housing)
        s.add(org)
        s.flush()
        sub = WebhookSubscription(
            organisation_id=org.id,
            url=receiver.url,
            event_types=["movement.received"],
            secret="",
            created_by="test",
        )
        secret = new_secret()
        sub.secret = secret_box.encrypt(secret, sub.id, "secret")
        s.add(sub)
        events = [
            DomainEvent(type="movement.received", source_org_id=org.id, data={"n": str(i)})
            for i in range(EVENTS)
        ]
        s.add_all(events)
        s.commit()
    event_ids = [e.id for e in events]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start.wait()
            idle = 0
            while idle < 3:
                idle = idle + 1 if run_once() == 0 else 0
                time.sleep(0.01)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    try:
        if mode == "processes":
            _in_processes()
        else:
            threads = [threading.Thread(target=work) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        assert not errors
        ids = Counter(r.headers["webhook-id"] for r in receiver.received)
        assert len(ids) == EVENTS and set(ids.values()) == {1}
        for got in receiver.received:
            Webhook(secret).verify(got.body, got.headers)
        with Session(engine) as s:
            rows = s.exec(
                select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id)
            ).all()
            assert len(rows) == EVENTS
            assert {(r.status, r.attempts) for r in rows} == {("delivered", 1)}
    finally:
        with Session(engine) as s:
            s.exec(delete(WebhookDelivery).where(col(WebhookDelivery.subscription_id) == sub.id))
            s.exec(delete(DomainEvent).where(col(DomainEvent.id).in_(event_ids)))
            s.exec(delete(WebhookSubscription).where(col(WebhookSubscription.id) == sub.id))
            s.exec(delete(Organisation).where(col(Organisation.id) == org.id))
            s.commit()
