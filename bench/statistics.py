"""Time the commissioners' statistics on a generated bench world (issue 14, part 4).

    python -m bench.statistics URL [--augment] [--repeat N] [--explain]

URL is the SQLAlchemy URL of a world built by bench/worlds.py (`make bench`), e.g.
postgresql+psycopg://postgres@127.0.0.1:5432/tc_bench_1m or sqlite:///var/bench/sqlite-1m.db.

The bench world has referrals, plans, consents and access events but no release dates,
acceptances, milestones, appointments or notes, so every care figure would count nothing.
`--augment` adds them once, in SQL (INSERT ... SELECT, in proportion to the world):
actual release dates for people in the community whose expected date has passed, an
acceptance transition for each accepted referral, a "first contact made" milestone for
60 % of them, an appointment with the receiving service (attendance mixed) for each, a
gate meeting for half the released, and a contact note for 30 % of acceptances. It writes
to the world given: use it on a world of your own (see docs/governance.md, "Benchmark").

Then each figure's query set is timed (median of --repeat runs) for three scopes: a year
unfiltered, a year for one organisation kind, a year for the busiest organisation; and
the whole `statistics()` call. With --explain on PostgreSQL every statement of one call
is run again under EXPLAIN (ANALYZE, BUFFERS), and its time and any sequential scan of a
large table are printed.
"""

import argparse
import statistics as stats
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.services import statistics as figures
from app.services import statistics_care as care
from app.services.statistics_core import Scope

THRESHOLD = 5
FIGURES: dict[str, Callable[[Session, Scope, int], Any]] = {
    "referral outcomes": figures.referral_outcomes,
    "median days to accept": care.median_days_to_accept,
    "median days to first contact": care.median_days_to_first_contact,
    "readiness at release (8 items)": care.readiness_at_release,
    "engagement at day 7 and 28": care.engagement_after_release,
    "appointment attendance": care.appointment_attendance,
    "break-glass reviews": figures.break_glass_reviews,
    "disclosures by lawful basis": figures.disclosures_by_basis,
    "withdrawn consents": figures.withdrawn_consents,
}

_PG_AUGMENT = [
    """UPDATE participants SET actual_release_date = expected_release_date
       WHERE phase IN ('community', 'ended') AND expected_release_date <= CURRENT_DATE""",
    """INSERT INTO referral_transitions (id, referral_id, from_status, to_status, actor,
           actor_org_id, note, at)
       SELECT gen_random_uuid(), r.id, 'submitted', 'accepted', 'user:bench', r.to_org_id,
              NULL, r.submitted_at + (abs(hashtext(r.id::text)) % 15) * interval '1 day'
       FROM referrals r
       WHERE r.status IN ('accepted', 'in_progress', 'completed')
         AND r.submitted_at IS NOT NULL""",
    """INSERT INTO referral_milestones (id, referral_id, participant_id, source_org_id, kind,
           occurred_on, note, recorded_by, recorded_at)
       SELECT gen_random_uuid(), r.id, r.participant_id, r.to_org_id, 'first_contact_made',
              (r.submitted_at AT TIME ZONE 'UTC')::date + (abs(hashtext(r.id::text)) % 30),
              NULL, 'user:bench', now()
       FROM referrals r
       WHERE r.status IN ('accepted', 'in_progress', 'completed')
         AND r.submitted_at IS NOT NULL AND abs(hashtext(r.id::text)) % 10 < 6""",
    """INSERT INTO appointments (id, participant_id, source_org_id, with_org_id, kind,
           starts_at, ends_at, attendance, created_by, version, created_at, updated_at)
       SELECT gen_random_uuid(), r.participant_id, p.source_org_id, r.to_org_id,
              'one_to_one', s.at, s.at + interval '1 hour',
              (ARRAY['attended', 'did_not_attend', 'cancelled', NULL])
                  [1 + abs(hashtext(r.id::text || 'a')) % 4],
              'user:bench', 1, s.at - interval '7 days', s.at - interval '7 days'
       FROM referrals r JOIN participants p ON p.id = r.participant_id
       CROSS JOIN LATERAL (SELECT (coalesce(p.actual_release_date, CURRENT_DATE)
              + (abs(hashtext(r.id::text || 'd')) % 35))::timestamp AT TIME ZONE 'UTC'
              + interval '10 hours' AS at) s
       WHERE r.status IN ('accepted', 'in_progress', 'completed')""",
    """INSERT INTO appointments (id, participant_id, source_org_id, with_org_id, kind,
           starts_at, ends_at, attendance, created_by, version, created_at, updated_at)
       SELECT gen_random_uuid(), p.id, p.source_org_id, NULL, 'gate_meeting', s.at,
              s.at + interval '1 hour', NULL, 'user:bench', 1,
              s.at - interval '14 days', s.at - interval '14 days'
       FROM participants p
       CROSS JOIN LATERAL (SELECT p.actual_release_date::timestamp AT TIME ZONE 'UTC'
              + interval '8 hours' AS at) s
       WHERE p.actual_release_date IS NOT NULL AND abs(hashtext(p.id::text)) % 2 = 0""",
    """INSERT INTO case_notes (id, participant_id, source_org_id, author, kind, category,
           occurred_on, text, version, created_at, updated_at)
       SELECT gen_random_uuid(), r.participant_id, r.to_org_id, 'user:bench', 'contact',
              'plan', coalesce(p.actual_release_date, CURRENT_DATE)
                  + (abs(hashtext(r.id::text || 'n')) % 40),
              'Synthetic contact', 1, now(), now()
       FROM referrals r JOIN participants p ON p.id = r.participant_id
       WHERE r.status IN ('accepted', 'in_progress', 'completed')
         AND abs(hashtext(r.id::text || 'n')) % 10 < 3""",
    "ANALYZE",
]

_SQLITE_UUID = "lower(hex(randomblob(16)))"
_SQLITE_AUGMENT = [
    """UPDATE participants SET actual_release_date = expected_release_date
       WHERE phase IN ('community', 'ended') AND expected_release_date <= date('now')""",
    f"""INSERT INTO referral_transitions (id, referral_id, from_status, to_status, actor,
           actor_org_id, note, at)
       SELECT {_SQLITE_UUID}, r.id, 'submitted', 'accepted', 'user:bench', r.to_org_id,
              NULL, datetime(r.submitted_at, '+' || (abs(random()) % 15) || ' days')
       FROM referrals r
       WHERE r.status IN ('accepted', 'in_progress', 'completed')
         AND r.submitted_at IS NOT NULL""",
    f"""INSERT INTO referral_milestones (id, referral_id, participant_id, source_org_id,
           kind, occurred_on, note, recorded_by, recorded_at)
       SELECT {_SQLITE_UUID}, r.id, r.participant_id, r.to_org_id, 'first_contact_made',
              date(r.submitted_at, '+' || (abs(random()) % 30) || ' days'), NULL,
              'user:bench', datetime('now')
       FROM referrals r
       WHERE r.status IN ('accepted', 'in_progress', 'completed')
         AND r.submitted_at IS NOT NULL AND abs(random()) % 10 < 6""",
    f"""INSERT INTO appointments (id, participant_id, source_org_id, with_org_id, kind,
           starts_at, ends_at, attendance, created_by, version, created_at, updated_at)
       SELECT {_SQLITE_UUID}, participant_id, source_org_id, to_org_id, 'one_to_one', at,
              datetime(at, '+1 hour'), attendance, 'user:bench', 1,
              datetime(at, '-7 days'), datetime(at, '-7 days')
       FROM (SELECT r.participant_id, p.source_org_id, r.to_org_id,
                    datetime(coalesce(p.actual_release_date, date('now')),
                             '+' || (abs(random()) % 35) || ' days', '+10 hours') AS at,
                    CASE abs(random()) % 4 WHEN 0 THEN 'attended'
                         WHEN 1 THEN 'did_not_attend' WHEN 2 THEN 'cancelled' END
                        AS attendance
             FROM referrals r JOIN participants p ON p.id = r.participant_id
             WHERE r.status IN ('accepted', 'in_progress', 'completed'))""",
    f"""INSERT INTO appointments (id, participant_id, source_org_id, with_org_id, kind,
           starts_at, ends_at, attendance, created_by, version, created_at, updated_at)
       SELECT {_SQLITE_UUID}, p.id, p.source_org_id, NULL, 'gate_meeting',
              datetime(p.actual_release_date, '+8 hours'),
              datetime(p.actual_release_date, '+9 hours'), NULL, 'user:bench', 1,
              datetime(p.actual_release_date, '-14 days'),
              datetime(p.actual_release_date, '-14 days')
       FROM participants p
       WHERE p.actual_release_date IS NOT NULL AND abs(random()) % 2 = 0""",
    f"""INSERT INTO case_notes (id, participant_id, source_org_id, author, kind, category,
           occurred_on, text, version, created_at, updated_at)
       SELECT {_SQLITE_UUID}, r.participant_id, r.to_org_id, 'user:bench', 'contact', 'plan',
              date(coalesce(p.actual_release_date, date('now')),
                   '+' || (abs(random()) % 40) || ' days'),
              'Synthetic contact', 1, datetime('now'), datetime('now')
       FROM referrals r JOIN participants p ON p.id = r.participant_id
       WHERE r.status IN ('accepted', 'in_progress', 'completed') AND abs(random()) % 10 < 3""",
    "ANALYZE",
]


def augment(engine: Engine) -> None:
    """Add the care rows the bench world lacks (see the module docstring)."""
    statements = _PG_AUGMENT if engine.dialect.name == "postgresql" else _SQLITE_AUGMENT
    with engine.begin() as conn:
        for sql in statements:
            start = time.perf_counter()
            result = conn.execute(text(sql))
            label = " ".join(sql.split()[:3])
            print(f"  {label:<40} {result.rowcount:>10,} rows {time.perf_counter() - start:7.1f} s")


def counts(engine: Engine) -> dict[str, int]:
    tables = (
        "participants",
        "referrals",
        "referral_transitions",
        "referral_milestones",
        "appointments",
        "case_notes",
        "plan_actions",
        "consents",
        "access_events",
        "break_glass_grants",
    )
    with engine.connect() as conn:
        return {
            t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in tables
        }


def scopes(engine: Engine) -> dict[str, Scope]:
    today = datetime.now(UTC).date()
    start = today - timedelta(days=365)
    with engine.connect() as conn:
        busiest = conn.execute(
            text(
                "SELECT to_org_id FROM referrals GROUP BY to_org_id ORDER BY count(*) DESC LIMIT 1"
            )
        ).scalar_one()
    org = busiest if not isinstance(busiest, str) else uuid.UUID(hex=busiest)
    return {
        "a year, all organisations": Scope(start, today),
        "a year, community mental health": Scope(start, today, org_kind="community_mental_health"),
        "a year, the busiest organisation": Scope(start, today, org_id=org),
    }


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, float]:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return stats.median(runs), min(runs), max(runs)


def explain(engine: Engine, scope: Scope) -> None:
    """Run every statement of one statistics() call under EXPLAIN ANALYZE (PostgreSQL)."""
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        captured.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    with Session(engine) as session:
        figures.statistics(session, scope, THRESHOLD)
    event.remove(engine, "before_cursor_execute", capture)
    big = ("participants", "referrals", "access_events", "appointments", "care_team_members")
    print("\nEXPLAIN (ANALYZE, BUFFERS), one call, scope: a year, all organisations")
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        for i, (statement, params) in enumerate(captured, 1):
            cur = raw.cursor()
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
            plan = [row[0] for row in cur.fetchall()]
            cur.close()
            total = next((p for p in plan if p.startswith("Execution Time")), "?")
            seq = sorted({t for p in plan for t in big if f"Seq Scan on {t}" in p})
            first = " ".join(statement.split())[:70]
            print(f"  [{i:2}] {total:<28} seq scans: {', '.join(seq) or '-':<40} {first}")
        raw.rollback()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--augment", action="store_true", help="add the care rows first")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE (PostgreSQL)")
    args = parser.parse_args()
    engine = create_engine(args.url)
    if args.augment:
        print("augmenting the world with care rows ...")
        augment(engine)
    print(f"world: {engine.dialect.name}")
    for table, n in counts(engine).items():
        print(f"  {table:<24} {n:>12,}")
    print(f"\ntimes in ms, median [min-max] of {args.repeat} runs, threshold {THRESHOLD}")
    with Session(engine) as session:
        for label, scope in scopes(engine).items():
            print(f"\n{label} ({scope.start} to {scope.end})")
            for name, fn in FIGURES.items():
                med, lo, hi = timed(partial(fn, session, scope, THRESHOLD), args.repeat)
                print(f"  {name:<34} {med:9.1f} [{lo:.1f}-{hi:.1f}]")
            whole = partial(figures.statistics, session, scope, THRESHOLD)
            med, lo, hi = timed(whole, args.repeat)
            print(f"  {'GET /statistics (every figure)':<34} {med:9.1f} [{lo:.1f}-{hi:.1f}]")
        first = next(iter(scopes(engine).values()))
        body = figures.statistics(session, first, THRESHOLD)
        print("\nwhat was counted (a year, all organisations; totals, suppressed = null):")
        for name, table in body.items():
            if isinstance(table, dict) and "total" in table:
                print(f"  {name:<28} {table['total']['value']}")
            elif isinstance(table, dict) and "median_days" in table:
                print(f"  {name:<28} {table['median_days']} days")
        for group in ("readiness_at_release", "engagement_after_release"):
            for key, table in body[group].items():
                met = next(iter(table["parts"].values()))["value"]
                print(f"  {group}.{key:<10} {met} of {table['total']['value']}")
    if args.explain and engine.dialect.name == "postgresql":
        explain(engine, next(iter(scopes(engine).values())))
    engine.dispose()


if __name__ == "__main__":
    main()
