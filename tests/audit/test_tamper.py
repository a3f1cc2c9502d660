"""Tampering by someone with the owner's database rights, after a checkpoint was signed:
`throughcare audit verify` names each kind, exits non-zero, and a new checkpoint is refused.

Each test works on its own fresh database of the run's backend (SQLite or PostgreSQL).
"""

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text, update

from app.models.audit import AccessEvent, AuditChainHead
from app.sharing.audit import GENESIS, event_hash, stripe_for
from tests.audit.env import (
    BACKEND,
    Fresh,
    append_committed,
    cli_json,
    fresh_database,
    pg_admin,
    pg_url,
    unguard,
)

EVENTS = AccessEvent.__table__  # type: ignore[attr-defined]
HEADS = AuditChainHead.__table__  # type: ignore[attr-defined]


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fresh]:
    with fresh_database(tmp_path, monkeypatch) as db:
        yield db


@pytest.fixture
def person() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def signed(fresh: Fresh, person: uuid.UUID) -> Fresh:
    """Events on several stripes (5 about `person`), checkpointed; verify says ok."""
    append_committed(fresh.owner, [person, *_others(person, 2), None], per=5)
    code, out = cli_json("audit", "checkpoint")
    assert code == 0 and out["written"] and out["rows"] == 20
    code, out = cli_json("audit", "verify")
    assert code == 0 and out["ok"] and out["checkpoints"]["valid"] == 1, out
    return fresh


def _others(person: uuid.UUID, n: int) -> list[uuid.UUID]:
    """`n` more people, each on a stripe of their own (so counts per stripe are exact)."""
    found: list[uuid.UUID] = []
    while len(found) < n:
        other = uuid.uuid4()
        if stripe_for(other) not in {stripe_for(p) for p in [person, *found]}:
            found.append(other)
    return found


def _rows(engine: Engine, stripe: int) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        found = conn.execute(
            select(EVENTS).where(EVENTS.c.stripe == stripe).order_by(EVENTS.c.seq)
        ).all()
    return [dict(r._mapping) for r in found]


def _set_head(engine: Engine, stripe: int, seq: int, digest: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(HEADS).where(HEADS.c.stripe == stripe).values(seq=seq, hash=digest))


def _kinds(out: dict[str, Any]) -> set[str]:
    return {f["kind"] for f in out["findings"]}


def _refused_checkpoint(fresh: Fresh) -> None:
    """No new checkpoint blesses the tampered log."""
    lines = fresh.checkpoint_file.read_text().count("\n")
    code, out = cli_json("audit", "checkpoint")
    assert code != 0 and out["written"] is False
    assert fresh.checkpoint_file.read_text().count("\n") == lines


def test_rehashed_rows_verify_internally_but_not_against_the_checkpoint(
    signed: Fresh, person: uuid.UUID
) -> None:
    """Rows rewritten from seq 2 on and re-linked, head fixed: the chain alone looks fine."""
    stripe = stripe_for(person)
    rows = _rows(signed.owner, stripe)
    unguard(signed.owner)
    prev = rows[0]["hash"]
    with signed.owner.begin() as conn:
        for row in rows[1:]:
            row["categories"] = ["identity"]  # hide that mental-health data was disclosed
            row["prev_hash"] = prev
            row["hash"] = prev = event_hash(row)
            conn.execute(
                update(EVENTS)
                .where(EVENTS.c.stripe == stripe, EVENTS.c.seq == row["seq"])
                .values(categories=row["categories"], prev_hash=row["prev_hash"], hash=row["hash"])
            )
    _set_head(signed.owner, stripe, rows[-1]["seq"], prev)
    code, out = cli_json("audit", "verify")
    assert out["chain"]["ok"] is True  # what verify said before checkpoints existed
    assert code == 2 and _kinds(out) == {"rewrite"}
    (finding,) = out["findings"]
    assert finding["stripe"] == stripe and finding["checkpoint_seq"] == 5
    _refused_checkpoint(signed)


def test_cut_tail_is_detected(signed: Fresh, person: uuid.UUID) -> None:
    """The last two rows about a person deleted (the head left as it was)."""
    stripe = stripe_for(person)
    unguard(signed.owner)
    with signed.owner.begin() as conn:
        conn.execute(text("DELETE FROM access_events WHERE stripe = :s AND seq > 3"), {"s": stripe})
    code, out = cli_json("audit", "verify")
    assert code == 1 and out["chain"]["ok"] is False
    assert _kinds(out) == {"cut_tail"}
    _refused_checkpoint(signed)


def test_cut_tail_with_the_head_reset_is_still_detected(signed: Fresh, person: uuid.UUID) -> None:
    """The forger also moves the head back: the chain is consistent, the checkpoint is not."""
    stripe = stripe_for(person)
    rows = _rows(signed.owner, stripe)
    unguard(signed.owner)
    with signed.owner.begin() as conn:
        conn.execute(text("DELETE FROM access_events WHERE stripe = :s AND seq > 3"), {"s": stripe})
    _set_head(signed.owner, stripe, 3, rows[2]["hash"])
    code, out = cli_json("audit", "verify")
    assert out["chain"]["ok"] is True
    assert code == 2 and _kinds(out) == {"rollback"}
    assert out["findings"][0]["database_seq"] == 3 and out["findings"][0]["checkpoint_seq"] == 5
    _refused_checkpoint(signed)


@pytest.mark.parametrize("reset_heads", [False, True])
def test_truncation_is_detected(signed: Fresh, reset_heads: bool) -> None:
    unguard(signed.owner)
    with signed.owner.begin() as conn:
        if BACKEND == "postgres":
            conn.execute(text("TRUNCATE access_events"))
        else:
            conn.execute(text("DELETE FROM access_events"))
        if reset_heads:
            conn.execute(update(HEADS).values(seq=0, hash=GENESIS))
    code, out = cli_json("audit", "verify")
    assert out["chain"]["ok"] is reset_heads
    assert code == (2 if reset_heads else 1)
    assert _kinds(out) == {"truncation"}
    _refused_checkpoint(signed)


def test_restored_older_copy_is_detected(signed: Fresh, person: uuid.UUID, tmp_path: Path) -> None:
    """A copy taken after checkpoint 1, more events and checkpoint 2, then the copy is
    restored: every row in it is genuine, and verify still says it is older than signed."""
    original = signed.url
    copy_url = _copy_database(signed, tmp_path)
    try:
        append_committed(signed.owner, [person], per=3)
        assert cli_json("audit", "checkpoint")[0] == 0
        signed.point_at(copy_url)  # the restore
        code, out = cli_json("audit", "verify")
        assert out["chain"]["ok"] is True and out["checkpoints"]["valid"] == 2
        assert code == 2 and _kinds(out) == {"rollback"}
        (finding,) = out["findings"]
        assert finding["stripe"] == stripe_for(person)
        assert (finding["database_seq"], finding["checkpoint_seq"]) == (5, 8)
        assert "(seq 5)" in finding["detail"]  # still agrees with the first checkpoint
        _refused_checkpoint(signed)
    finally:
        signed.point_at(original)
        if BACKEND == "postgres":
            pg_admin(f'DROP DATABASE IF EXISTS "{copy_url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _copy_database(fresh: Fresh, tmp_path: Path) -> str:
    """A full copy of the database as it is now (what a backup would hold)."""
    if BACKEND == "postgres":
        fresh.owner.dispose()
        from tests.audit.env import clear_caches

        clear_caches()
        name = f"tc_audit_copy_{uuid.uuid4().hex[:10]}"
        pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{fresh.url.rsplit("/", 1)[1]}"')
        return pg_url(name)
    source = fresh.url.removeprefix("sqlite:///")
    target = tmp_path / "backup.db"
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)  # the online backup API: WAL contents included
    return f"sqlite:///{target}"


def test_altered_checkpoint_fails_its_signature(signed: Fresh) -> None:
    """Someone edits the checkpoint file to match a shorter log: the signature fails."""
    path = signed.checkpoint_file
    line = path.read_text()
    path.write_text(line.replace('"heads":[[0,5,', '"heads":[[0,4,', 1))
    assert path.read_text() != line
    code, out = cli_json("audit", "verify")
    assert code == 3 and _kinds(out) == {"bad_signature"}
    assert out["checkpoints"] == {**out["checkpoints"], "valid": 0, "invalid": 1}


def test_tampering_before_any_checkpoint_is_invisible_to_the_chain_alone(
    fresh: Fresh, person: uuid.UUID
) -> None:
    """Why checkpoints exist: without one, a re-linked rewrite verifies (and verify warns)."""
    append_committed(fresh.owner, [person], per=3)
    stripe = stripe_for(person)
    rows = _rows(fresh.owner, stripe)
    unguard(fresh.owner)
    with fresh.owner.begin() as conn:
        conn.execute(text("DELETE FROM access_events WHERE stripe = :s AND seq = 3"), {"s": stripe})
        total = conn.execute(select(func.count()).select_from(EVENTS)).scalar_one()
    _set_head(fresh.owner, stripe, 2, rows[1]["hash"])
    code, out = cli_json("audit", "verify")
    assert code == 0 and out["rows"] == total == 2
    assert any("no checkpoint yet" in w for w in out["warnings"])
