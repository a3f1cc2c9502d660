"""Audited-transaction throughput on PostgreSQL: striped chain heads vs one head.

    PYTHONPATH=. python -m bench.audit_stripes postgresql+psycopg://postgres@127.0.0.1:5432/x

Each of THREADS writers runs TXNS transactions that append one access event about a random
participant and commit. "one head" routes every event to stripe 0, which is what the single
chain head did before decision 0002 was revised. Prints median and spread of three runs.
"""

import statistics
import sys
import threading
import time
import uuid

from sqlmodel import Session

import app.sharing.audit as audit
from app.cli import run_migrations
from app.core.db import make_engine
from tests.audit.env import draft

THREADS, TXNS, REPEATS = 8, 150, 3


def _run(url: str) -> float:
    engine = make_engine(url)

    def writer() -> None:
        for _ in range(TXNS):
            with Session(engine) as session:
                audit.append_events(session, [draft(uuid.uuid4())])
                session.commit()

    threads = [threading.Thread(target=writer) for _ in range(THREADS)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    engine.dispose()
    return THREADS * TXNS / elapsed


def main(url: str) -> None:
    """Measure both layouts, interleaved, and print transactions per second."""
    run_migrations(url)
    striped = audit.stripe_for
    results: dict[str, list[float]] = {"32 stripes": [], "one head": []}
    for _ in range(REPEATS):
        audit.stripe_for = striped  # type: ignore[assignment]
        results["32 stripes"].append(_run(url))
        audit.stripe_for = lambda _participant: 0  # type: ignore[assignment]
        results["one head"].append(_run(url))
    for name, values in results.items():
        print(
            f"{name:>10}: {statistics.median(values):7.0f} txn/s "
            f"[{min(values):.0f}-{max(values):.0f}] ({THREADS} writers)"
        )


if __name__ == "__main__":
    main(sys.argv[1])
