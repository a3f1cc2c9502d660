"""The checkpoint key and the serving process's checkpoint thread."""

import json
import os
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.core.settings import get_settings
from app.sharing.checkpoints import load_key
from tests.audit.env import Fresh, append_committed, cli_json, fresh_database


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fresh]:
    with fresh_database(tmp_path, monkeypatch) as db:
        yield db


def test_key_is_generated_once_owner_only_and_not_in_the_database(fresh: Fresh) -> None:
    append_committed(fresh.owner, [uuid.uuid4()], per=2)
    assert cli_json("audit", "checkpoint")[0] == 0
    key = get_settings().audit_checkpoint_key_path
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = key.read_bytes()
    assert cli_json("audit", "checkpoint")[0] == 0
    assert key.read_bytes() == first  # reused, not regenerated
    lines = fresh.checkpoint_file.read_text().splitlines()
    assert len(lines) == 2 and {"at", "heads", "key_id", "sig"} <= json.loads(lines[0]).keys()
    assert len(json.loads(lines[0])["heads"]) == 33


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    load_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        load_key(path)


def test_verify_never_creates_a_key(fresh: Fresh) -> None:
    code, out = cli_json("audit", "verify")
    assert code == 0 and out["checkpoints"]["valid"] == 0
    assert not get_settings().audit_checkpoint_key_path.exists()


def _serve_for(seconds: float) -> None:
    from app.main import create_app

    with TestClient(create_app()):
        time.sleep(seconds)


def test_the_serving_process_writes_checkpoints_periodically(
    fresh: Fresh, monkeypatch: pytest.MonkeyPatch
) -> None:
    append_committed(fresh.owner, [uuid.uuid4(), None], per=2)
    monkeypatch.setenv("THROUGHCARE_AUDIT_CHECKPOINT_INTERVAL_SECONDS", "1")
    get_settings.cache_clear()
    _serve_for(2.6)
    lines = fresh.checkpoint_file.read_text().splitlines()
    assert len(lines) >= 2
    assert sum(q for _, q, _ in json.loads(lines[-1])["heads"]) == 4
    code, out = cli_json("audit", "verify")
    assert code == 0 and out["checkpoints"]["valid"] == len(lines)


def test_checkpoints_can_be_switched_off(fresh: Fresh, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THROUGHCARE_AUDIT_CHECKPOINT_INTERVAL_SECONDS", "0")
    get_settings.cache_clear()
    _serve_for(1.2)
    assert not fresh.checkpoint_file.exists()
