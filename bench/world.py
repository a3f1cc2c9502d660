"""Synthetic worlds for the bench: N participants with care teams, consents, referrals,
plans and access-event history in fixed proportions, bulk-loaded and cached.

The world is the demo seed (`throughcare seed-demo`: organisations, users, protocols by
organisation kind) plus N synthetic participants and one synthetic organisation per 100
participants, so an organisation's caseload is about the same size (~450 for a probation
unit) in every world: what grows with the world is everybody else's data, which a list
must not walk. Per participant: a lead coordination organisation (the source of the
record), probation for 90 %, one more of prison healthcare / mental health / housing /
peer support, and an ended membership for 10 % (~3.1 care-team rows); 0.6 consents;
one referral (all statuses); 60 % have a plan with 2 goals and an action each; 2 access
events (a valid hash chain); 0.5 % are restricted records (issue 14) naming their lead
organisation, and 0.1 % have a restriction that was lifted, so the planner sees those
tables at a realistic size, not empty. Deterministic (seeded), so both backends hold the same data.

Loading: COPY on PostgreSQL (foreign-key triggers off for the session), executemany in
large transactions on SQLite (journal off while loading). Cached under var/bench/ keyed
by size, schema head and WORLD_VERSION.
"""

import json
import random
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.sharing.audit import event_hash, stripe_for

WORLD_VERSION = "3"
CHUNK = 20_000
NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()

# share of organisations by kind (the demo's six are among them)
ORG_KINDS = [
    ("care_coordination", 0.2),
    ("probation", 0.2),
    ("prison_healthcare", 0.15),
    ("community_mental_health", 0.15),
    ("housing", 0.15),
    ("peer_support", 0.15),
]
REFERRAL_STATUSES = [
    ("draft", 5),
    ("submitted", 20),
    ("accepted", 15),
    ("in_progress", 20),
    ("completed", 25),
    ("declined", 10),
    ("withdrawn", 5),
]


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done, self.start = label, total, 0, time.monotonic()
        self._last = 0.0

    def add(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last > 0.5 or self.done >= self.total:
            self._last = now
            frac = self.done / self.total if self.total else 1.0
            bar = "#" * int(frac * 30)
            sys.stderr.write(
                f"\r  {self.label:<34} [{bar:<30}] {frac * 100:5.1f}% "
                f"{self.done:>10,} rows {now - self.start:6.1f}s"
            )
            if self.done >= self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def _uid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(bytes=rng.randbytes(16), version=4)


def _weighted(rng: random.Random, table: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in table], [w for _, w in table])[0]


class World:
    """Rows of one world, produced table by table (participants' ids kept for the rest)."""

    def __init__(self, size: int, demo_orgs: dict[str, tuple[uuid.UUID, str]]) -> None:
        self.size = size
        self.rng = random.Random(size * 7919 + 17)
        self.orgs_by_kind: dict[str, list[uuid.UUID]] = {k: [] for k, _ in ORG_KINDS}
        for org_id, kind in demo_orgs.values():
            if kind in self.orgs_by_kind:
                self.orgs_by_kind[kind].append(org_id)
        self.new_orgs: list[dict[str, Any]] = []
        total = max(12, size // 100)
        for kind, share in ORG_KINDS:
            while len(self.orgs_by_kind[kind]) < max(2, round(total * share)):
                org_id = _uid(self.rng)
                self.orgs_by_kind[kind].append(org_id)
                self.new_orgs.append(
                    {
                        "id": org_id,
                        "name": f"Synthetic {kind} {len(self.orgs_by_kind[kind])}",
                        "kind": kind,
                        "active": True,
                        "created_at": NOW - timedelta(days=900),
                    }
                )
        self.actor = "user:bench-generator"

    def counts(self) -> dict[str, int]:
        """Rough row counts per table, for the progress bars."""
        n = self.size
        return {
            "organisations": len(self.new_orgs),
            "participants": n,
            "care_team_members": int(n * 3.0),
            "consents": int(n * 0.6),
            "referrals": n,
            "plans": int(n * 0.6),
            "plan_goals": int(n * 1.2),
            "plan_actions": int(n * 1.2),
            "access_events": 2 * n,
            "restricted_records": int(n * 0.006),
            "restricted_record_orgs": int(n * 0.005),
        }

    def people(self) -> Iterator[dict[str, dict[str, Any] | list[dict[str, Any]]]]:
        """Per participant: the participant row and their rows in the other tables."""
        rng = self.rng
        coord, probation = self.orgs_by_kind["care_coordination"], self.orgs_by_kind["probation"]
        others = [
            self.orgs_by_kind[k]
            for k in ("prison_healthcare", "community_mental_health", "housing", "peer_support")
        ]
        for i in range(self.size):
            pid = _uid(rng)
            lead = rng.choice(coord)
            created = NOW - timedelta(seconds=rng.randrange(3 * 365 * 86400))
            phase = rng.choices(
                ["in_prison", "pre_release", "community", "ended"], [35, 15, 40, 10]
            )[0]
            release = TODAY + timedelta(days=rng.randrange(-700, 700))
            if phase in ("in_prison", "pre_release"):
                release = TODAY + timedelta(days=rng.randrange(0, 540))
            person = {
                "id": pid,
                "given_name": f"Given{i}",
                "family_name": f"Synthetic{i % 9973}",
                "preferred_name": None,
                "date_of_birth": date(
                    1960 + rng.randrange(45), 1 + rng.randrange(12), 1 + rng.randrange(28)
                ),
                "prison_number": None,
                "probation_crn": None,
                "nhs_number": None,
                "phone": f"07700 9{i % 100000:05d}",
                "email": f"p{i}@example.invalid",
                "address": f"{i % 300} Synthetic Road",
                "gender": "prefer not to say",
                "establishment": "HMP Synthetic",
                "expected_release_date": release,
                "phase": phase,
                "intervention_start": created.date(),
                "source_org_id": lead,
                "version": 1,
                "created_at": created,
                "updated_at": created,
            }
            since = created
            team = [(lead, "lead", None)]
            if rng.random() < 0.9:
                team.append((rng.choice(probation), "contributor", None))
            kind_orgs = rng.choice(others)
            team.append(
                (rng.choice(kind_orgs), "peer" if kind_orgs is others[3] else "contributor", None)
            )
            if rng.random() < 0.1:
                team.append(
                    (rng.choice(rng.choice(others)), "contributor", NOW - timedelta(days=30))
                )
            members = [
                {
                    "id": _uid(rng),
                    "participant_id": pid,
                    "organisation_id": org,
                    "user_id": None,
                    "role": role,
                    "source_org_id": lead,
                    "since": since,
                    "until": until,
                    "added_by": self.actor,
                    "created_at": since,
                }
                for org, role, until in team
            ]
            consents = []
            if rng.random() < 0.6:
                consents.append(
                    {
                        "id": _uid(rng),
                        "participant_id": pid,
                        "source_org_id": lead,
                        "categories": [
                            "identity",
                            "contact",
                            "mental_health",
                            "plan",
                            "appointments",
                            "social",
                        ],
                        "recipient_org_ids": [],
                        "recipient_org_kinds": [
                            "community_mental_health",
                            "housing",
                            "peer_support",
                        ],
                        "purposes": ["direct_care"],
                        "method": "verbal",
                        "recorded_by": self.actor,
                        "given_at": since,
                        "expires_at": None,
                        "withdrawn_at": NOW - timedelta(days=5) if rng.random() < 0.1 else None,
                        "created_at": since,
                    }
                )
            status = _weighted(rng, REFERRAL_STATUSES)
            to_org = rng.choice(probation if rng.random() < 0.25 else rng.choice(others))
            ref_at = since + timedelta(days=rng.randrange(1, 60))
            referrals = [
                {
                    "id": _uid(rng),
                    "participant_id": pid,
                    "from_org_id": lead,
                    "to_org_id": to_org,
                    "service_id": None,
                    "reason": "Synthetic referral for continuity of care",
                    "urgency": rng.choice(["routine", "soon", "urgent"]),
                    "categories": ["identity", "contact"],
                    "status": status,
                    "created_by": self.actor,
                    "submitted_at": None if status == "draft" else ref_at,
                    "version": 1,
                    "created_at": ref_at,
                    "updated_at": ref_at,
                }
            ]
            plans: list[dict[str, Any]] = []
            goals: list[dict[str, Any]] = []
            actions: list[dict[str, Any]] = []
            if rng.random() < 0.6:
                plan_id = _uid(rng)
                common = {
                    "participant_id": pid,
                    "source_org_id": lead,
                    "version": 1,
                    "created_at": since,
                    "updated_at": since,
                }
                plans.append({"id": plan_id, **common})
                for g, domain in enumerate(
                    rng.sample(["housing", "health", "employment", "benefits"], 2)
                ):
                    goal_id = _uid(rng)
                    goals.append(
                        {
                            "id": goal_id,
                            "plan_id": plan_id,
                            "title": f"Goal {g + 1}",
                            "horizon": "short_term_recovery",
                            "life_domain": domain,
                            "priority": g + 1,
                            "status": "active",
                            "created_by": self.actor,
                            **common,
                        }
                    )
                    actions.append(
                        {
                            "id": _uid(rng),
                            "goal_id": goal_id,
                            "plan_id": plan_id,
                            "description": "Synthetic step",
                            "owner_kind": "practitioner",
                            "owner_org_id": lead,
                            "due_date": TODAY + timedelta(days=14),
                            "status": "planned",
                            "created_by": self.actor,
                            **common,
                        }
                    )
            restricted: list[dict[str, Any]] = []
            restricted_orgs: list[dict[str, Any]] = []
            roll = rng.random()
            if roll < 0.006:
                on = roll < 0.005  # 0.1 % lifted: a row with restricted = false, no orgs
                restricted.append(
                    {
                        "participant_id": pid,
                        "restricted": on,
                        "reason": "Synthetic restriction",
                        "set_by": self.actor,
                        "set_by_org_id": lead,
                        "set_at": since,
                    }
                )
                if on:
                    restricted_orgs.append({"participant_id": pid, "org_id": lead})
            yield {
                "participants": person,
                "care_team_members": members,
                "consents": consents,
                "referrals": referrals,
                "plans": plans,
                "plan_goals": goals,
                "plan_actions": actions,
                "restricted_records": restricted,
                "restricted_record_orgs": restricted_orgs,
            }

    def access_events(
        self, heads: dict[int, tuple[int, str]], pids: list[uuid.UUID]
    ) -> Iterator[dict[str, Any]]:
        """Two historical reads per participant, each chained onto its stripe's head
        (`heads` is advanced as the events are made)."""
        rng = self.rng
        for pid in pids:
            stripe = stripe_for(pid)
            for _ in range(2):
                seq, prev = heads[stripe]
                values: dict[str, Any] = {
                    "stripe": stripe,
                    "seq": seq + 1,
                    "occurred_at": NOW - timedelta(seconds=rng.randrange(365 * 86400)),
                    "actor": self.actor,
                    "actor_org_id": None,
                    "actor_role": "practitioner",
                    "participant_id": pid,
                    "action": "read",
                    "resource": "participant",
                    "resource_id": str(pid),
                    "categories": ["identity"],
                    "withheld": [],
                    "basis": [{"category": "identity", "kind": "own_record"}],
                    "purpose": "direct_care",
                    "request_id": f"bench-{stripe}-{seq + 1}",
                    "outcome": "allowed",
                    "prev_hash": prev,
                }
                values["hash"] = event_hash(values)
                heads[stripe] = (seq + 1, values["hash"])
                yield values


# -- loaders ---------------------------------------------------------------------------


def _sqlite_value(column: Any) -> Callable[[Any], Any]:
    kind = type(column.type).__name__
    if kind == "Uuid":
        return lambda v: None if v is None else v.hex
    if kind == "UTCDateTime":
        return lambda v: None if v is None else v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if kind == "Date":
        return lambda v: None if v is None else v.isoformat()
    if kind == "JSON":
        return lambda v: None if v is None else json.dumps(v)
    if kind == "Boolean":
        return lambda v: None if v is None else int(v)
    return lambda v: v


def _pg_value(column: Any) -> Callable[[Any], Any]:
    if type(column.type).__name__ == "JSON":
        return lambda v: None if v is None else json.dumps(v)
    return lambda v: v


class Loader:
    """Buffers rows per table and writes them in chunks (COPY or executemany)."""

    def __init__(
        self, backend: str, conn: Any, tables: dict[str, Any], totals: dict[str, int]
    ) -> None:
        self.backend, self.conn, self.tables = backend, conn, tables
        self.buffers: dict[str, list[tuple[Any, ...]]] = {}
        self.columns: dict[str, list[str]] = {}
        self.convert: dict[str, list[Callable[[Any], Any]]] = {}
        self.progress = {name: Progress(name, total) for name, total in totals.items()}
        make = _sqlite_value if backend == "sqlite" else _pg_value
        for name, table in tables.items():
            self.columns[name] = [c.name for c in table.columns]
            self.convert[name] = [make(c) for c in table.columns]
            self.buffers[name] = []

    def add(self, name: str, row: dict[str, Any]) -> None:
        cols, conv = self.columns[name], self.convert[name]
        self.buffers[name].append(tuple(f(row.get(c)) for c, f in zip(cols, conv, strict=True)))
        if len(self.buffers[name]) >= CHUNK:
            self.flush(name)

    def flush(self, name: str) -> None:
        rows = self.buffers[name]
        if not rows:
            return
        cols = self.columns[name]
        if self.backend == "sqlite":
            marks = ",".join("?" * len(cols))
            self.conn.executemany(f"INSERT INTO {name} ({','.join(cols)}) VALUES ({marks})", rows)
        else:
            with (
                self.conn.cursor() as cur,
                cur.copy(f"COPY {name} ({','.join(cols)}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        self.progress[name].add(len(rows))
        self.buffers[name] = []

    def flush_all(self) -> None:
        for name in self.buffers:
            self.flush(name)

    def close(self) -> None:
        for bar in self.progress.values():
            if 0 < bar.done < bar.total:
                bar.total = bar.done
                bar.add(0)


def load_world(backend: str, dsn: str, size: int) -> None:
    """Add the synthetic participants (and their records) to a migrated, seeded database."""
    from sqlmodel import SQLModel

    import app.models  # noqa: F401

    names = list(World(0, {}).counts())
    tables = {n: SQLModel.metadata.tables[n] for n in names}
    if backend == "sqlite":
        conn: Any = sqlite3.connect(dsn, isolation_level=None)
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1000000")
        conn.execute("BEGIN")
        orgs = conn.execute("SELECT id, name, kind FROM organisations").fetchall()
        rows = conn.execute("SELECT stripe, seq, hash FROM audit_chain_heads").fetchall()
        demo = {name: (uuid.UUID(hex=str(i)), kind) for i, name, kind in orgs}
    else:
        import psycopg

        conn = psycopg.connect(dsn)
        conn.execute("SET session_replication_role = replica")  # no FK triggers while loading
        demo = {n: (i, k) for i, n, k in conn.execute("SELECT id, name, kind FROM organisations")}
        rows = conn.execute("SELECT stripe, seq, hash FROM audit_chain_heads").fetchall()
    heads = {int(stripe): (int(seq), str(hash_)) for stripe, seq, hash_ in rows}
    world = World(size, demo)
    loader = Loader(backend, conn, tables, world.counts())
    for org in world.new_orgs:
        loader.add("organisations", org)
    loader.flush("organisations")
    pids: list[uuid.UUID] = []
    for rows in world.people():
        for name, value in rows.items():
            for row in value if isinstance(value, list) else [value]:
                loader.add(name, row)
        pids.append(rows["participants"]["id"])  # type: ignore[index]
    loader.flush_all()
    for event in world.access_events(heads, pids):
        loader.add("access_events", event)
    loader.flush_all()
    loader.close()
    if backend != "sqlite":
        # Loaded with triggers off (replica role): advance each stripe's head to its last
        # row, as the linking trigger does for every insert on SQLite.
        for stripe, (seq, hash_) in heads.items():
            conn.execute(
                "UPDATE audit_chain_heads SET seq = %s, hash = %s WHERE stripe = %s",
                (seq, hash_, stripe),
            )
    if backend == "sqlite":
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    else:
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    conn.close()
