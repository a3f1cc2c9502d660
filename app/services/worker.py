"""The delivery worker: fan out new events, then claim, send and record due deliveries.

Each step runs in its own short transaction; nothing is sent while a transaction is open.
Run it as `throughcare worker` (any number of them on PostgreSQL), or embedded in
`serve` (setting `embedded_worker`) for the single-node mode.
"""

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlmodel import Session

from app.core.db import committing, get_engine
from app.core.settings import get_settings
from app.models.base import utcnow
from app.services import delivery
from app.services.consent_notices import notify_expired_consents

log = logging.getLogger("throughcare.worker")
Sessions = Callable[[], AbstractContextManager[Session]]


@contextmanager
def own_session() -> Iterator[Session]:
    """A session of the process's engine, committed on success."""
    with Session(get_engine(), expire_on_commit=False) as session, committing(session):
        yield session


def run_once(sessions: Sessions = own_session) -> int:
    """One round: announce expired consents, fan out, claim a batch, send it, record the
    outcomes; the number sent."""
    settings = get_settings()
    with sessions() as session:
        notify_expired_consents(session, utcnow())
    with sessions() as session:
        delivery.fan_out(session, utcnow())
    with sessions() as session:
        plans = delivery.claim(session, utcnow(), settings.worker_batch_size)
    for plan in plans:
        outcome = delivery.send(plan)
        with sessions() as session:
            delivery.record(session, outcome, utcnow())
    return len(plans)


def run_forever(stop: threading.Event, sessions: Sessions = own_session) -> None:
    """Deliver until `stop` is set, pausing when there is nothing to do."""
    poll = get_settings().worker_poll_seconds
    while not stop.is_set():
        try:
            sent = run_once(sessions)
        except Exception:
            # A failed round leaves its deliveries leased: they are retried after the lease.
            log.exception("delivery round failed")
            sent = 0
        if not sent:
            stop.wait(poll)


def start_embedded() -> tuple[threading.Thread, threading.Event]:
    """The worker as a daemon thread of this process (embedded single-node mode)."""
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(stop,), name="webhook-worker", daemon=True)
    thread.start()
    return thread, stop
