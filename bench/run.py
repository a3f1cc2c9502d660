"""`make bench`: throughput of a protected, audited participant read relative to a bare
async endpoint, measured in one run against one uvicorn worker on loopback.

Target (issue 2): protected read >= 0.25 x bare async endpoint, on SQLite.
Prints figures and ratios; exits non-zero only if the server cannot be started.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.load import run_load

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "app.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def main() -> None:
    seconds = float(os.environ.get("BENCH_SECONDS", "5"))
    tmp = Path(tempfile.mkdtemp(prefix="throughcare-bench-"))
    env = {
        **os.environ,
        "THROUGHCARE_DATABASE_URL": os.environ.get(
            "BENCH_DATABASE_URL", f"sqlite:///{tmp}/bench.db"
        ),
        "THROUGHCARE_SIGNING_KEY_PATH": str(tmp / "key.pem"),
        "THROUGHCARE_LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [sys.executable, "-m", "app.cli", "seed-demo"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    port = _free_port()
    server = _serve(env, port)
    try:
        base = f"http://127.0.0.1:{port}"
        token = httpx.post(
            f"{base}/api/v1/auth/token",
            data={
                "grant_type": "password",
                "username": "probation-officer",
                "password": "demo-password-not-for-production",
            },
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        items = httpx.get(f"{base}/api/v1/participants?limit=1", headers=auth).json()["items"]
        pid = items[0]["id"]
        run_load("127.0.0.1", port, "/healthz", seconds=1)  # warm up
        run_load("127.0.0.1", port, f"/api/v1/participants/{pid}", auth, seconds=1)
        bare = run_load("127.0.0.1", port, "/healthz", seconds=seconds)
        read = run_load("127.0.0.1", port, f"/api/v1/participants/{pid}", auth, seconds=seconds)
        listing = run_load(
            "127.0.0.1", port, "/api/v1/participants?limit=25", auth, seconds=seconds
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    verify = subprocess.run(
        [sys.executable, "-m", "app.cli", "audit", "verify", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"database: {env['THROUGHCARE_DATABASE_URL'].split(':')[0]}, one uvicorn worker")
    print(f"bare async endpoint (/healthz):        {bare.rate:8.0f} req/s  errors {bare.errors}")
    print(f"protected read (participant + audit):  {read.rate:8.0f} req/s  errors {read.errors}")
    print(
        f"protected list (25 rows, 4 audited):   {listing.rate:8.0f} req/s  errors {listing.errors}"
    )
    ratio = read.rate / bare.rate if bare.rate else 0.0
    print(f"ratio protected read / bare async:     {ratio:8.2f}  (target >= 0.25)")
    print(f"ratio protected list / bare async:     {listing.rate / bare.rate:8.2f}")
    print(f"audit chain after the run: {verify.stdout.strip()}")


if __name__ == "__main__":
    main()
