"""Consistent backups of a live database and restores that refuse to overwrite data.

SQLite: the online backup API, in one step, so the copy is one consistent snapshot that
includes what is still only in the write-ahead log (a plain copy of the `.db` file
without its `-wal` loses committed rows). PostgreSQL: `pg_dump`/`pg_restore`, custom
format, from a snapshot exported by the transaction that also counts the rows reported.
"""

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL, make_url

from app.core.db import make_engine, sqlite_path

# Counted after a backup and a restore: what an operator compares.
COUNTED_TABLES = ("participants", "care_team_members", "referrals", "plans", "access_events")


class BackupError(Exception):
    """A backup or restore that could not be done (the message says why)."""


def backup_database(url: str, dest: Path) -> dict[str, Any]:
    """Write a consistent backup of the database at `url` to `dest`; return row counts."""
    source = sqlite_path(url)
    partial = dest.with_name(dest.name + ".partial")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source is not None:
        _sqlite_copy(_open_existing(source), partial, journal_mode="DELETE")
        counts = _sqlite_counts(partial)
    else:
        counts = _pg_dump_snapshot(url, partial)
    _fsync(partial)
    os.replace(partial, dest)
    _fsync(dest.parent)
    return counts


def restore_database(url: str, backup: Path, *, force: bool = False) -> dict[str, Any]:
    """Restore `backup` into the database at `url`; refuse one with data unless `force`."""
    if not backup.is_file():
        raise BackupError(f"{backup} is not a file")
    target = sqlite_path(url)
    if target is not None:
        source = _open_backup(backup)
        if _sqlite_has_tables(target) and not force:
            raise BackupError("the target database has data (pass --force to replace it)")
        target.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(source, target, journal_mode="WAL")
        return _sqlite_counts(target)
    _run(["pg_restore", "--list", str(backup)], url, quiet=True)  # a readable archive?
    has_data = _postgres_has_tables(url)
    if has_data and not force:
        raise BackupError("the target database has data (pass --force to replace it)")
    command = ["pg_restore", "--no-password", "--single-transaction", "--exit-on-error"]
    command += ["--no-owner", "--dbname", _pg_url(url).database or ""]
    if has_data:
        command += ["--clean", "--if-exists"]
    _run([*command, str(backup)], url)
    return _counts(url)


def _open_existing(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise BackupError(f"no database at {path}")
    return sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=rw", uri=True, timeout=30)


def _open_backup(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ours = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='alembic_version'"
        ).fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a SQLite backup ({exc})") from None
    if not ok or ours is None:
        raise BackupError(f"{path} is not an intact Throughcare backup")
    return conn


def _sqlite_copy(source: sqlite3.Connection, dest: Path, *, journal_mode: str) -> None:
    target = sqlite3.connect(dest, timeout=30)
    try:
        # pages=-1 (the default): one step under one read transaction, so the copy is a
        # single snapshot even while the service keeps committing.
        source.backup(target)
        target.execute(f"PRAGMA journal_mode={journal_mode}")
        if target.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError("the copy failed its integrity check")
    finally:
        target.close()
        source.close()


def _sqlite_has_tables(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
    try:
        found = conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()
        return bool(found[0])
    finally:
        conn.close()


def _sqlite_counts(path: Path) -> dict[str, Any]:
    conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
    try:
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608 (constants)
            for t in COUNTED_TABLES
        }
        counts["audit_heads"] = {
            str(stripe): seq
            for stripe, seq in conn.execute("SELECT stripe, seq FROM audit_chain_heads")
        }
        return {"rows": counts}
    finally:
        conn.close()


def _counts(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return _count_rows(conn)
    finally:
        engine.dispose()


def _count_rows(conn: Connection) -> dict[str, Any]:
    counts = {
        t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()  # noqa: S608
        for t in COUNTED_TABLES
    }
    counts["audit_heads"] = {
        str(stripe): seq
        for stripe, seq in conn.execute(text("SELECT stripe, seq FROM audit_chain_heads"))
    }
    return {"rows": counts}


def _pg_dump_snapshot(url: str, dest: Path) -> dict[str, Any]:
    """pg_dump into `dest` from an exported snapshot, counting rows in that same snapshot
    (so the counts describe the backup, not the database a moment later)."""
    engine = make_engine(url)
    try:
        with engine.connect() as plain:
            conn = plain.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar()
                counts = _count_rows(conn)
                command = ["pg_dump", "--format=custom", "--no-password", f"--file={dest}"]
                _run([*command, f"--snapshot={snapshot}"], url)
    finally:
        engine.dispose()
    return counts


def _postgres_has_tables(url: str) -> bool:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT count(*) FROM pg_tables"
                    " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
                )
            ).scalar()
    finally:
        engine.dispose()
    return bool(found)


def _pg_url(url: str) -> URL:
    return make_url(url)


def _run(command: list[str], url: str, *, quiet: bool = False) -> None:
    """Run a PostgreSQL client with the connection in PG* variables (no password in argv)."""
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed (PostgreSQL client tools)")
    parsed = _pg_url(url)
    env = {**os.environ}
    for name, value in (
        ("PGHOST", parsed.host),
        ("PGPORT", parsed.port),
        ("PGUSER", parsed.username),
        ("PGPASSWORD", parsed.password),
        ("PGDATABASE", parsed.database),
    ):
        if value is not None:
            env[name] = str(value)
    # The program is one of ours (pg_dump / pg_restore), its arguments built here.
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()[:2000]}")
    if not quiet and done.stderr.strip():
        raise BackupError(f"{command[0]} reported: {done.stderr.strip()[:2000]}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
