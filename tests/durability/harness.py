"""A real Throughcare server process on its own database, and a client that writes and
reads through the API and remembers what was acknowledged."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from app.core.db import make_engine
from tests.conftest import _PG_ADMIN_URL, BACKEND

ROOT = Path(__file__).resolve().parent.parent.parent
# The code the server and CLI processes run (another checkout, to show a test failing on
# older code); this tree by default.
APP_ROOT = Path(os.environ.get("THROUGHCARE_DURABILITY_APP_ROOT", ROOT))
DEMO_PASSWORD = "demo-password-not-for-production"


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pg_admin(sql: str, admin_url: str | None = None) -> None:
    import psycopg

    dsn = (admin_url or _PG_ADMIN_URL or "").replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@contextmanager
def own_database(tmp: Path, name: str = "db", admin_url: str | None = None) -> Iterator[str]:
    """A URL for a new, empty database of the run's backend (dropped afterwards)."""
    if BACKEND != "postgres" and admin_url is None:
        yield f"sqlite:///{tmp}/{name}.sqlite"
        return
    admin = admin_url or _PG_ADMIN_URL or ""
    db = f"tc_dur_{name}_{uuid.uuid4().hex[:10]}"
    _pg_admin(f'CREATE DATABASE "{db}"', admin)
    try:
        yield admin.rsplit("/", 1)[0] + "/" + db
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)', admin)


def cli(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `throughcare ARGS` as its own process."""
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=APP_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"throughcare {' '.join(args)} failed: {done.stdout}{done.stderr}")
    return done


class Server:
    """`uvicorn app.main:app` on a free port; killed with SIGKILL by its own pid."""

    def __init__(self, url: str, tmp: Path, **settings: str) -> None:
        self.url = url
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(APP_ROOT),
            "THROUGHCARE_DATABASE_URL": url,
            "THROUGHCARE_SIGNING_KEY_PATH": str(tmp / "signing-key.pem"),
            "THROUGHCARE_LOG_LEVEL": "WARNING",
            **{f"THROUGHCARE_{k.upper()}": v for k, v in settings.items()},
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tmp / f"server-{self.port}.log"

    def prepare(self) -> None:
        """Migrate and seed the demo world (the only way a database is created)."""
        cli(self.env, "migrate")
        cli(self.env, "seed-demo")

    def start(self, timeout: float = 60) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "app.main:app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--no-access-log",
                ],
                cwd=APP_ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("server did not start")

    def kill(self) -> None:
        """kill -9, by the server's own process id."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
            self.proc = None

    def token(self, username: str = "coordinator") -> str:
        response = httpx.post(
            f"{self.base}/api/v1/auth/token",
            data={"grant_type": "password", "username": username, "password": DEMO_PASSWORD},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


@dataclass
class Workload:
    """A client thread: register a participant, then read it back (an audited read)."""

    base: str
    token: str
    acked_writes: list[str] = field(default_factory=list)
    acked_reads: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: int = 0  # no answer at all (refused, reset, killed mid-request)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> "Workload":
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def _count(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=10) as client:
            while not self._stop.is_set():
                try:
                    created = client.post(
                        "/api/v1/participants",
                        json={"given_name": "Synthetic", "family_name": uuid.uuid4().hex[:12]},
                    )
                    self._count(created.status_code)
                    if created.status_code != 201:
                        time.sleep(0.05)
                        continue
                    participant_id = created.json()["id"]
                    self.acked_writes.append(participant_id)
                    request_id = f"dur-{uuid.uuid4().hex}"
                    read = client.get(
                        f"/api/v1/participants/{participant_id}",
                        headers={"X-Request-ID": request_id},
                    )
                    self._count(read.status_code)
                    if read.status_code == 200:
                        self.acked_reads.append(request_id)
                except httpx.HTTPError:
                    self.failures += 1
                    time.sleep(0.05)


def scalar(url: str, sql: str, **params: Any) -> Any:
    """One value read straight from the database (not through the service)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def column_values(url: str, sql: str) -> set[str]:
    """Every value of the one column `sql` selects; ids normalised to 32 hex digits."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {_normal(v) for v in conn.execute(text(sql)).scalars()}
    finally:
        engine.dispose()


def _normal(value: Any) -> str:
    try:
        return uuid.UUID(str(value)).hex
    except ValueError:
        return str(value)


def normal_ids(values: list[str]) -> set[str]:
    """Ids as `column_values` returns them."""
    return {_normal(v) for v in values}
