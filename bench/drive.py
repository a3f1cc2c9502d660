"""Load generation: wrk (Debian package, installed on first use) pinned to the core the
server does not use, or the Python generator in bench/load.py when wrk cannot be had."""

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.load import run_load

_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCHJSON {\\"requests\\":%d,\\"duration_us\\":%d,\\"errors\\":%d,\\"non2xx\\":%d,"
    .. "\\"p50\\":%d,\\"p90\\":%d,\\"p99\\":%d}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"""


@dataclass
class Load:
    rate: float  # requests per second
    p50_ms: float
    p99_ms: float
    errors: int
    tool: str


def ensure_wrk() -> str | None:
    """wrk's path, installing Debian's package when missing (None if that fails)."""
    if os.environ.get("BENCH_NO_WRK") == "1":
        return None
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk (apt-get install wrk) ...")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, capture_output=True)
        if not shutil.which("wrk"):
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, capture_output=True)
    return shutil.which("wrk")


_SCRIPT = Path(tempfile.gettempdir()) / "throughcare-bench-wrk.lua"


def load(
    port: int,
    path: str,
    headers: dict[str, str] | None,
    seconds: float,
    connections: int,
    cpu: str | None,
) -> Load:
    """Drive GET `path` for `seconds` with `connections` keep-alive connections."""
    wrk = ensure_wrk()
    if wrk is None:
        result = run_load("127.0.0.1", port, path, headers, seconds, connections)
        return Load(result.rate, result.p50_ms, result.p99_ms, result.errors, "python")
    _SCRIPT.write_text(_LUA)
    cmd = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    cmd += ["-s", str(_SCRIPT)]
    for key, value in (headers or {}).items():
        cmd += ["-H", f"{key}: {value}"]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    if cpu is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", cpu, *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    line = next(x for x in out.splitlines() if x.startswith("BENCHJSON "))
    data = json.loads(line.removeprefix("BENCHJSON "))
    secs = data["duration_us"] / 1e6
    return Load(
        data["requests"] / secs if secs else 0.0,
        data["p50"] / 1000,
        data["p99"] / 1000,
        data["errors"] + data["non2xx"],
        "wrk",
    )
