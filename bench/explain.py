"""EXPLAIN of the list queries, built by the same functions the services use, executed as
the driver would run them (EXPLAIN ANALYZE on PostgreSQL, EXPLAIN QUERY PLAN on SQLite)."""

import re
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import event
from sqlmodel import Session

from app.auth.caller import Caller
from app.core.db import make_engine
from app.core.pagination import after_clause
from app.models.organisation import OrgKind
from app.models.participant import Participant
from app.models.referral import Referral
from app.services.referral_boxes import Box, BoxFilter, _statement
from app.services.release_readiness import RELEASE_KEYS, release_window
from app.sharing.visibility import caseload_page

DEEP = uuid.UUID("e0000000-0000-4000-8000-000000000000")  # 7/8 into the id space
LIMIT = 50


def _caseload(caller: Caller, now: datetime, deep: bool) -> Any:
    keys = [Participant.id]

    def after(k: Any) -> Any:
        return after_clause(k, [DEEP]) if deep else None

    stmt = caseload_page(caller, now, keys, after, LIMIT + 1)
    return stmt.order_by(Participant.id).limit(LIMIT + 1)


def statements(caller: Caller, now: datetime) -> dict[str, Any]:
    """The list statements of P2, as the services build them for `caller`."""
    releases = caseload_page(
        caller, now, RELEASE_KEYS, lambda k: None, LIMIT + 1, release_window(now.date(), 14)
    ).order_by(*RELEASE_KEYS)
    inbox = _statement(SimpleNamespace(caller=caller, now=now), BoxFilter(Box.inbox))  # type: ignore[arg-type]
    return {
        "caseload first page": _caseload(caller, now, deep=False),
        "caseload deep cursor page": _caseload(caller, now, deep=True),
        "release list (14 days)": releases.limit(LIMIT + 1),
        "referral inbox": inbox.order_by(Referral.created_at.desc(), Referral.id.desc()).limit(
            LIMIT + 1
        ),  # type: ignore[attr-defined]
    }


def explain(url: str, org_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    """Plan text per list query and whether it has a sequential scan or a large sort."""
    engine = make_engine(url)
    pg = engine.dialect.name == "postgresql"
    caller = Caller(
        subject="user:bench",
        token_type="user",
        org_id=org_id,
        org_kind=OrgKind.probation,
        role="practitioner",
        scopes=frozenset(),
        token_id="bench",
    )
    now = datetime.now(UTC)
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        captured.append((statement, params))

    out: dict[str, dict[str, Any]] = {}
    with Session(engine) as session:
        event.listen(engine, "before_cursor_execute", capture)
        for name, stmt in statements(caller, now).items():
            captured.clear()
            session.execute(stmt).all()
            sql, params = captured[-1]
            cur = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if pg else "EXPLAIN QUERY PLAN "
            cur.execute(prefix + sql, params)
            rows = cur.fetchall()
            lines = [str(r[0]) for r in rows] if pg else [str(r[-1]) for r in rows]
            text = "\n".join(lines)
            if pg:
                seq = [x.strip() for x in lines if "Seq Scan" in x]
                sorts = [
                    int(m.group(1))
                    for x in lines
                    if "Sort" in x and "Sort Key" not in x and "Sort Method" not in x
                    for m in [re.search(r"actual time=\S+ rows=(\d+)", x)]
                    if m
                ]
                big_sort = [n for n in sorts if n > 4 * (LIMIT + 1)]
                ms = next((x for x in lines if x.startswith("Execution Time")), "")
            else:
                # "SCAN anon_N" reads a branch's own <= limit rows (a co-routine), not a table
                seq = [x for x in lines if re.match(r"SCAN (?!anon_)\w+", x.strip())]
                big_sort = []  # SQLite cannot say how many rows a temp b-tree sorts
                ms = ""
            out[name] = {
                "plan": text,
                "seq_scans": seq,
                "large_sorts": big_sort,
                "execution": ms,
                "ok": not seq and not big_sort,
            }
        event.remove(engine, "before_cursor_execute", capture)
    engine.dispose()
    return out
