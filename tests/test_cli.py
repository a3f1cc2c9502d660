"""The `throughcare` command against its own fresh SQLite database.

Most tests drive the typer app in this process (fast); one runs the installed console
script as a subprocess to prove the entry point works.
"""

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jose import jwt
from typer.testing import CliRunner, Result

from app.cli import cli
from app.core.db import get_engine
from app.core.settings import get_settings

PASSWORD = "synthetic-cli-password-01"
ISSUER = "https://cli.throughcare.test"


def _clear_caches() -> None:
    get_engine().dispose()
    get_engine.cache_clear()
    get_settings.cache_clear()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings point at a fresh, migrated SQLite file; restored after the test."""
    _clear_caches()
    monkeypatch.setenv("THROUGHCARE_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("THROUGHCARE_ISSUER", ISSUER)
    assert _json(_run("migrate", "--json")) == {"migrated": True}
    yield tmp_path
    _clear_caches()  # the next get_engine() sees the restored environment


def _run(*args: str, stdin: str = "") -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin)


def _json(result: Result) -> dict[str, Any]:
    """The one JSON object a --json command prints (and nothing else on stdout)."""
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    value = json.loads(lines[0])
    assert isinstance(value, dict)
    return value


def _org(kind: str = "probation") -> dict[str, Any]:
    name = f"Test Delivery Unit {uuid.uuid4().hex[:6]}"
    org = _json(_run("create-org", "--name", name, "--kind", kind, "--json"))
    assert org["name"] == name and org["kind"] == kind
    uuid.UUID(org["id"])
    return org


@pytest.mark.usefixtures("env")
def test_migrate_is_repeatable() -> None:
    again = _run("migrate")
    assert again.exit_code == 0, again.stderr
    assert "newest schema" in again.stdout


@pytest.mark.usefixtures("env")
def test_create_user_and_get_a_user_token() -> None:
    org = _org()
    username = f"officer-{uuid.uuid4().hex[:6]}"
    created = _run(
        *("create-user", "--org", org["id"], "--username", username, "--role", "practitioner"),
        *("--password-stdin", "--json"),
        stdin=PASSWORD + "\n",
    )
    user = _json(created)
    assert user["username"] == username and user["role"] == "practitioner"
    assert PASSWORD not in created.stdout + created.stderr
    issued = _json(
        _run(
            *("token", "--username", username, "--secret-stdin", "--scope", "plans:read"),
            "--json",
            stdin=PASSWORD + "\n",
        )
    )
    assert issued["token_type"] == "bearer" and issued["scope"] == "plans:read"
    claims = jwt.get_unverified_claims(issued["access_token"])
    assert claims["sub"] == f"user:{user['id']}"
    assert claims["org"] == org["id"]
    assert claims["iss"] == ISSUER


@pytest.mark.usefixtures("env")
def test_create_client_prints_its_secret_and_it_works() -> None:
    org = _org("prison_healthcare")
    text = _run(
        *("create-client", "--org", org["id"], "--name", "Test EPR"),
        *("--scopes", "referrals:read referrals:write"),
    )
    assert text.exit_code == 0, text.stderr
    assert "client_secret:" in text.stdout and "not shown again" in text.stdout
    created = _json(
        _run(
            *("create-client", "--org", org["id"], "--name", "Test EPR 2"),
            *("--scopes", "participants:read", "--json"),
        )
    )
    assert created["client_id"].startswith("tc_") and len(created["client_secret"]) >= 32
    assert created["scopes"] == ["participants:read"]
    raw = _run(
        "token", "--client-id", created["client_id"], "--secret-stdin",
        stdin=created["client_secret"] + "\n",
    )  # fmt: skip
    assert raw.exit_code == 0, raw.stderr
    claims = jwt.get_unverified_claims(raw.stdout.strip())
    assert claims["sub"] == f"client:{created['client_id']}"
    assert claims["scope"] == "participants:read"


@pytest.mark.usefixtures("env")
def test_wrong_secret_is_refused() -> None:
    org = _org()
    created = _json(
        _run("create-client", "--org", org["id"], "--name", "T", "--scopes", "", "--json")
    )
    result = _run(
        "token", "--client-id", created["client_id"], "--secret-stdin", "--json",
        stdin="not-the-secret\n",
    )  # fmt: skip
    assert result.exit_code != 0
    assert json.loads(result.stdout) == {"error": "invalid client credentials"}


@pytest.mark.usefixtures("env")
def test_excess_scope_is_refused() -> None:
    org = _org()
    username = f"nurse-{uuid.uuid4().hex[:6]}"
    _json(
        _run(
            *("create-user", "--org", org["id"], "--username", username, "--role", "practitioner"),
            *("--password-stdin", "--json"),
            stdin=PASSWORD + "\n",
        )
    )
    result = _run(
        "token", "--username", username, "--scope", "admin", "--secret-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert result.exit_code != 0
    assert "scope" in result.stderr
    assert result.stdout == ""


@pytest.mark.usefixtures("env")
def test_unknown_org_kind_exits_non_zero_with_a_message() -> None:
    result = _run("create-org", "--name", "Test Org", "--kind", "spaceship")
    assert result.exit_code != 0
    assert result.stderr.startswith("error: kind:")
    assert "probation" in result.stderr  # the message lists the valid kinds
    as_json = _run("create-org", "--name", "Test Org", "--kind", "spaceship", "--json")
    assert as_json.exit_code != 0
    assert "kind" in json.loads(as_json.stdout)["error"]


@pytest.mark.parametrize(
    ("args", "stdin", "fragment"),
    [
        (["--role", "wizard", "--password-stdin"], PASSWORD, "role"),
        (["--role", "practitioner", "--password-stdin"], "short", "password"),
        (["--role", "participant", "--password-stdin"], PASSWORD, "participant"),
        (["--role", "practitioner"], PASSWORD, "--password-stdin"),
    ],
    ids=["bad-role", "short-password", "participant-without-record", "no-stdin-flag"],
)
@pytest.mark.usefixtures("env")
def test_bad_user_input_fails_clearly(args: list[str], stdin: str, fragment: str) -> None:
    org = _org()
    result = _run(
        "create-user", "--org", org["id"], "--username", f"x-{uuid.uuid4().hex[:6]}",
        *args, "--json", stdin=stdin + "\n",
    )  # fmt: skip
    assert result.exit_code != 0
    assert fragment in json.loads(result.stdout.strip().splitlines()[-1])["error"]


@pytest.mark.usefixtures("env")
def test_create_user_in_unknown_org_fails() -> None:
    result = _run(
        "create-user", "--org", str(uuid.uuid4()), "--username", "nobody-org",
        "--role", "practitioner", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert result.exit_code != 0
    assert "organisation" in result.stderr.lower()


@pytest.mark.usefixtures("env")
def test_seed_demo_if_empty_seeds_once() -> None:
    first = _json(_run("seed-demo", "--if-empty", "--json"))
    assert first["seeded"] is True
    assert first["users"] and first["clients"]
    second = _json(_run("seed-demo", "--if-empty", "--json"))
    assert second == {"seeded": False}
    user = first["users"][0]["username"]
    issued = _json(
        _run("token", "--username", user, "--secret-stdin", "--json",
             stdin=first["password"] + "\n")
    )  # fmt: skip
    assert issued["access_token"]


def test_console_script_migrates_a_fresh_database(tmp_path: Path) -> None:
    """The installed `throughcare` entry point, in its own process and environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("THROUGHCARE_")}
    env["THROUGHCARE_DATABASE_URL"] = f"sqlite:///{tmp_path}/fresh.db"
    env["THROUGHCARE_SIGNING_KEY_PATH"] = f"{tmp_path}/signing-key.pem"
    script = Path(sys.executable).parent / "throughcare"
    result = subprocess.run(
        [str(script), "migrate", "--json"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"migrated": True}
    assert (tmp_path / "fresh.db").stat().st_size > 0


def test_engagement_scan_runs_on_an_empty_database(env: Path) -> None:
    """The scan command works against a migrated database (and is safe to repeat)."""
    assert _json(_run("engagement", "scan", "--json")) == {"participants": 0, "notices": 0}
    assert _json(_run("engagement", "scan", "--json")) == {"participants": 0, "notices": 0}


def test_documents_rescan_runs_on_an_empty_database(env: Path) -> None:
    assert _json(_run("documents", "rescan", "--json")) == {
        "clean": 0,
        "infected": 0,
        "pending": 0,
    }
