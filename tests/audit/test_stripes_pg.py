"""Concurrency of the striped chain on PostgreSQL: appenders about different people do not
wait for each other; appenders on one stripe still queue (no fork); requests touching
several people lock in one order (no deadlock)."""

import random
import threading
import time
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from app.core.db import get_engine
from app.sharing.audit import STRIPES, append_events, stripe_for, verify_chain
from tests.audit.env import draft

pytestmark = pytest.mark.postgres


def _on_stripe(stripe: int) -> uuid.UUID:
    while True:
        person = uuid.uuid4()
        if stripe_for(person) == stripe:
            return person


def _short_lock_timeout(session: Session) -> None:
    session.execute(text("SET LOCAL lock_timeout = '300ms'"))


def test_appenders_about_different_people_do_not_wait_for_each_other() -> None:
    """The old single head made the second appender wait until the first committed."""
    engine = get_engine()
    with Session(engine) as holder, Session(engine) as other, Session(engine) as same:
        append_events(holder, [draft(_on_stripe(3))])  # holds stripe 3 until it ends
        _short_lock_timeout(other)
        append_events(other, [draft(_on_stripe(4)), draft(None)])  # no wait
        _short_lock_timeout(same)
        with pytest.raises(DBAPIError, match="lock timeout"):
            append_events(same, [draft(_on_stripe(3))])  # one stripe, one writer at a time
        for session in (holder, other, same):
            session.rollback()


def test_requests_touching_several_people_in_any_order_do_not_deadlock() -> None:
    engine = get_engine()
    pool = [_on_stripe(s) for s in random.sample(range(1, STRIPES + 1), 5)] + [None]
    errors: list[Exception] = []
    done = [0]

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(15):
            people = rng.sample(pool, 3)  # a different order each time
            try:
                with Session(engine) as session:
                    append_events(session, [draft(p) for p in people])
                    time.sleep(0.002)  # hold the locks a little, as a request would
                    session.commit()
                    done[0] += 1
            except Exception as exc:  # a deadlock would land here
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and done[0] == 60
    with Session(engine) as session:
        assert verify_chain(session).ok
