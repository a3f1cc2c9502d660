"""`throughcare backup` / `restore` under write load: a consistent snapshot that restores,
verifies, and never silently replaces a database that has data."""

import json
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BACKEND
from tests.durability.harness import (
    Server,
    Workload,
    cli,
    column_values,
    normal_ids,
    own_database,
    scalar,
)


def _json(done: Any) -> dict[str, Any]:
    return dict(json.loads(done.stdout.strip().splitlines()[0]))


def test_backup_under_write_load_restores_and_verifies(tmp_path: Path) -> None:
    """A backup taken while a client writes restores with its counts and a sound chain."""
    with own_database(tmp_path, "src") as url, own_database(tmp_path, "dst") as target_url:
        server = Server(url, tmp_path)
        server.prepare()
        server.start()
        workload = Workload(server.base, server.token()).start()
        try:
            time.sleep(1.0)
            acked_before = list(workload.acked_writes)
            taken = cli(server.env, "backup", str(tmp_path / "backup.bin"), "--json")
            time.sleep(0.5)  # writes go on after the backup
        finally:
            workload.stop()
            server.stop()
        backed_up = _json(taken)["rows"]
        assert backed_up["participants"] > 0 and acked_before
        target_env = {**server.env, "THROUGHCARE_DATABASE_URL": target_url}
        restored = cli(target_env, "restore", str(tmp_path / "backup.bin"), "--json")
        assert _json(restored)["rows"] == backed_up
        verified = json.loads(restored.stdout.strip().splitlines()[-1])
        assert verified["ok"] is True  # restore ran `audit verify`
        ids = column_values(target_url, "SELECT id FROM participants")
        assert normal_ids(acked_before) <= ids  # acknowledged before the backup: present
        assert len(ids) < len(column_values(url, "SELECT id FROM participants"))
        # Each restored chain (stripe) is a prefix of the live one (same hash at its head).
        sql = "SELECT hash FROM access_events WHERE stripe = :stripe AND seq = :seq"
        heads = {int(k): v for k, v in backed_up["audit_heads"].items() if v}
        assert heads
        for stripe, seq in heads.items():
            restored_hash = scalar(target_url, sql, stripe=stripe, seq=seq)
            assert restored_hash == scalar(url, sql, stripe=stripe, seq=seq)


def test_restore_refuses_a_database_with_data_unless_forced(tmp_path: Path) -> None:
    """Restoring over a database with data replaces it only with --force."""
    with own_database(tmp_path, "live") as url:
        server = Server(url, tmp_path)
        server.prepare()
        cli(server.env, "backup", str(tmp_path / "old.bin"))
        server.start()
        workload = Workload(server.base, server.token()).start()
        time.sleep(0.5)
        workload.stop()
        server.stop()
        count = scalar(url, "SELECT count(*) FROM participants")
        refused = cli(server.env, "restore", str(tmp_path / "old.bin"), check=False)
        assert refused.returncode != 0
        assert "has data" in refused.stderr
        assert scalar(url, "SELECT count(*) FROM participants") == count
        forced = cli(server.env, "restore", str(tmp_path / "old.bin"), "--force", "--json")
        assert _json(forced)["rows"]["participants"] < count
        assert json.loads(forced.stdout.strip().splitlines()[-1])["ok"] is True


def test_backup_refuses_to_overwrite_and_restore_rejects_a_non_backup(tmp_path: Path) -> None:
    """No silent overwrite of a backup file; a file that is not a backup restores nothing."""
    with own_database(tmp_path, "one") as url, own_database(tmp_path, "two") as other:
        server = Server(url, tmp_path)
        server.prepare()
        (tmp_path / "exists.bin").write_bytes(b"keep me")
        again = cli(server.env, "backup", str(tmp_path / "exists.bin"), check=False)
        assert again.returncode != 0
        assert (tmp_path / "exists.bin").read_bytes() == b"keep me"
        env = {**server.env, "THROUGHCARE_DATABASE_URL": other}
        bad = cli(env, "restore", str(tmp_path / "exists.bin"), check=False)
        assert bad.returncode != 0


@pytest.mark.xfail(
    strict=False,
    reason="depends on WAL checkpoint timing: a demonstration, not a product check",
)
def test_plain_copy_without_the_wal_loses_committed_rows(tmp_path: Path) -> None:
    """Why the backup command exists: copying the SQLite file alone drops recent commits."""
    if BACKEND != "sqlite":
        pytest.skip("SQLite's write-ahead log")
    with own_database(tmp_path, "wal") as url:
        server = Server(url, tmp_path)
        server.prepare()
        server.start()
        workload = Workload(server.base, server.token())
        try:
            workload.start()
            time.sleep(1.0)
            workload.stop()
            live = Path(url.removeprefix("sqlite:///"))
            shutil.copyfile(live, tmp_path / "plain.sqlite")  # the -wal file left behind
            cli(server.env, "backup", str(tmp_path / "api.sqlite"))
        finally:
            server.stop()
    acked = normal_ids(workload.acked_writes)
    in_backup = column_values(f"sqlite:///{tmp_path}/api.sqlite", "SELECT id FROM participants")
    plain = sqlite3.connect(tmp_path / "plain.sqlite")
    in_plain = {row[0] for row in plain.execute("SELECT id FROM participants")}
    plain.close()
    assert acked <= in_backup
    assert not acked <= in_plain, "the plain copy happened to hold every row this time"
