"""A private PostgreSQL cluster (initdb/pg_ctl in a temp dir, free port) that fault tests
may stop and pause: never the shared server."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.durability.harness import free_port

PG_BIN = Path(os.environ.get("THROUGHCARE_PG_BIN", "/usr/lib/postgresql/15/bin"))


def available() -> bool:
    """initdb and pg_ctl are installed (and, as root, a postgres account to run them)."""
    if not (PG_BIN / "initdb").exists():
        return False
    return os.geteuid() != 0 or shutil.which("runuser") is not None


class PrivateCluster:
    """One throwaway cluster; `url` reaches its `postgres` database as superuser."""

    def __init__(self) -> None:
        # Its own directory under the system temp dir: pytest's tmp_path (mode 700, root's)
        # is not reachable by the postgres account.
        self.root = Path(tempfile.mkdtemp(prefix="throughcare-pg-"))
        self.dir = self.root / "data"
        self.sock = self.root / "sock"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, *args: str) -> list[str]:
        # initdb refuses to run as root: run the server as the postgres account.
        return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)

    def init(self) -> None:
        self.sock.mkdir(parents=True, exist_ok=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            shutil.chown(self.sock, "postgres", "postgres")
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run(
            self._as_owner(
                str(PG_BIN / "initdb"), "-D", str(self.dir), "-U", "postgres", "--auth=trust", "-N"
            ),
            check=True,
            capture_output=True,
        )
        self.start()

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c max_connections=50"
        )
        subprocess.run(
            self._as_owner(
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.dir),
                "-o",
                options,
                "-w",
                "-l",
                str(self.dir / "log.txt"),
                "start",
            ),
            check=True,
            capture_output=True,
        )

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            self._as_owner(str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-m", mode, "-w", "stop"),
            check=False,
            capture_output=True,
        )

    def remove(self) -> None:
        """Stop at once and delete the cluster's files."""
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def _pids(self) -> list[int]:
        postmaster = int((self.dir / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True, text=True
        ).stdout.split()
        return [postmaster, *(int(p) for p in children)]

    def pause(self) -> None:
        """SIGSTOP the postmaster and every backend: connections stay open, nothing answers."""
        for pid in self._pids():
            os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self._pids():
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.2)
