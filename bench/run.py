"""`make bench`: every figure of issue 10 §2, measured in one run, with its target beside it.

    make bench                      # 1k, 100k and 1M participants, SQLite and PostgreSQL
    make bench QUICK=1              # 1k and 100k, shorter runs: a few minutes once cached
    BENCH_SIZES=1k,1m BENCH_BACKENDS=postgres BENCH_REPS=3 BENCH_SECONDS=5 make bench

Worlds are generated once and cached under var/bench/ (bench/world.py). The server is one
uvicorn worker pinned to CPU 0 (two for P4, on the same CPU); wrk runs pinned to CPU 1.
Ratios are taken between figures measured in the same run; each figure is repeated
BENCH_REPS times (interleaved) and reported as median [min-max]. Writes
bench/results/latest.json. Exits 0 whatever the figures (it is a measurement, not a test).
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import drive
from bench.worlds import ROOT, ensure_world, org_id_of

SERVER_CPU, LOAD_CPU = "0", "1"
SIZES = {"1k": 1_000, "100k": 100_000, "1m": 1_000_000}


def _env(url: str, audit: str = "on") -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "THROUGHCARE_DATABASE_URL": url,
        "THROUGHCARE_SIGNING_KEY_PATH": str(ROOT / "var" / "bench" / "key.pem"),
        "THROUGHCARE_LOG_LEVEL": "WARNING",
        "THROUGHCARE_TOKEN_LIFETIME_SECONDS": "7200",
        "THROUGHCARE_MAX_PAGE_SIZE": "100",
        "THROUGHCARE_BENCH": "1",
        "BENCH_AUDIT": audit,
    }


class Server:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, workers: int) -> None:
        self.proc, self.port, self.workers = proc, port, workers
        self.base = f"http://127.0.0.1:{port}"

    def rss_mb(self) -> list[float]:
        """Resident memory of each worker process (MB)."""
        pids = [self.proc.pid]
        if self.workers > 1:
            kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
            pids = [int(p) for p in kids.split()]
        out = []
        for pid in pids:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out.append(int(line.split()[1]) / 1024)
        return out

    def cpu_seconds(self) -> float:
        """CPU time (user + system, every thread) used so far by the server's processes."""
        pids = [self.proc.pid]
        kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        if kids.exists():
            pids += [int(p) for p in kids.read_text().split()]
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        return total


_next_port = [18400]


@contextmanager
def serve(url: str, workers: int = 1, audit: str = "on") -> Iterator[Server]:
    """One uvicorn server on the bench's app, pinned to the server CPU."""
    _next_port[0] += 1
    port = _next_port[0]
    cmd = [sys.executable, "-m", "uvicorn", "bench.server:app", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--workers", str(workers), "--no-access-log"]
    cmd += ["--log-level", "warning"]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", SERVER_CPU, *cmd]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(url, audit))
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise SystemExit("server did not start")
        time.sleep(0.5 * workers)  # let every worker come up
        yield Server(proc, port, workers)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _token(server: Server) -> dict[str, str]:
    resp = httpx.post(
        f"{server.base}/api/v1/auth/token",
        data={
            "grant_type": "password",
            "username": "probation-officer",
            "password": "demo-password-not-for-production",
        },
        timeout=30,
    )
    resp.raise_for_status()
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def _paths(server: Server, auth: dict[str, str]) -> dict[str, str]:
    """The requests measured, for a participant of the caller's caseload who has a plan."""
    from app.core.pagination import encode_cursor
    from bench.explain import DEEP

    items = httpx.get(f"{server.base}/api/v1/participants?limit=50", headers=auth).json()["items"]
    pid = items[0]["id"]
    for item in items:
        if httpx.get(
            f"{server.base}/api/v1/participants/{item['id']}/plan", headers=auth
        ).is_success:
            pid = item["id"]
            break
    base = f"/api/v1/participants/{pid}"
    return {
        "healthz": "/healthz",
        "read": base,
        "list50": "/api/v1/participants?limit=50",
        "plan": f"{base}/plan",
        "timeline": f"{base}/timeline",
        "caseload_first": "/api/v1/participants?limit=50",
        "caseload_deep": f"/api/v1/participants?limit=50&cursor={encode_cursor([str(DEEP)])}",
        "releases": "/api/v1/caseload/releases?within_days=14&limit=50",
        "inbox": "/api/v1/referrals?box=inbox&limit=50",
    }


def _stats(values: list[float]) -> dict[str, float]:
    values = [v for v in values if v > 0] or [0.0]  # a run that completed no request
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _throughput(
    server: Server, paths: dict[str, str], auth: dict[str, str], names: list[str], cfg: Any
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {n: [] for n in names}
    for name in names:  # warm up
        drive.load(server.port, paths[name], auth, 1, 4, LOAD_CPU)
    for _ in range(cfg["reps"]):
        for name in names:
            res = drive.load(server.port, paths[name], auth, cfg["seconds"], 16, LOAD_CPU)
            if res.errors:
                print(f"    {name}: {res.errors} errors")
            out[name].append(res.rate)
    return out


def _latency(
    servers: dict[str, Server],
    paths: dict[str, dict[str, str]],
    auth: dict[str, dict[str, str]],
    cfg: Any,
) -> dict[str, dict[str, list[float]]]:
    """p50 of each list request at each size, sizes interleaved within every repetition so
    that a change in the machine's load hits every size alike."""
    names = ["caseload_first", "caseload_deep", "releases", "inbox"]
    out: dict[str, dict[str, list[float]]] = {size: {n: [] for n in names} for size in servers}
    for size, server in servers.items():
        for name in names:
            drive.load(server.port, paths[size][name], auth[size], 1, 1, LOAD_CPU)
    for _ in range(cfg["reps"]):
        for name in names:
            for size, server in servers.items():
                # one connection: the latency of a request alone, not queueing behind others
                secs = max(3, cfg["seconds"])
                res = drive.load(server.port, paths[size][name], auth[size], secs, 1, LOAD_CPU)
                out[size][name].append(res.p50_ms)
    return out


def _ratios(num: list[float], den: list[float]) -> dict[str, float]:
    """Ratio per repetition (both measured in the same repetition), then median/spread."""
    return _stats([a / b for a, b in zip(num, den, strict=True) if b])


def bench_backend(backend: str, sizes: list[str], cfg: Any) -> dict[str, Any]:
    res: dict[str, Any] = {"sizes": {}}
    small, big = sizes[0], sizes[-1]
    urls = {s: ensure_world(backend, SIZES[s]) for s in sizes}
    print(f"\n== {backend}: P1 and P3 at {small}")
    with serve(urls[small]) as on, serve(urls[small], audit="off") as off:
        auth_on, auth_off = _token(on), _token(off)
        paths = _paths(on, auth_on)
        names = ["healthz", "read", "list50", "plan", "timeline"]
        tp = _throughput(on, paths, auth_on, names, cfg)
        p3 = {"on": [], "off": []}
        for _ in range(cfg["reps"]):
            p3["on"].append(
                drive.load(on.port, paths["read"], auth_on, cfg["seconds"], 16, LOAD_CPU).rate
            )
            p3["off"].append(
                drive.load(off.port, paths["read"], auth_off, cfg["seconds"], 16, LOAD_CPU).rate
            )
    res["throughput"] = {n: _stats(v) for n, v in tp.items()}
    res["P1"] = {n: _ratios(tp[n], tp["healthz"]) for n in names[1:]}
    res["P3"] = {"audited_rps": _stats(p3["on"]), "unaudited_rps": _stats(p3["off"])}
    res["P3"]["ratio"] = _ratios(p3["on"], p3["off"])
    if backend == "postgres":
        print(f"== {backend}: P4 (1 vs 2 workers, both on CPU {SERVER_CPU}) at {small}")
        rates: dict[int, list[float]] = {1: [], 2: []}
        busy: list[float] = []  # share of its CPU the single worker used under the load
        with serve(urls[small], workers=1) as one, serve(urls[small], workers=2) as two:
            a1, a2 = _token(one), _token(two)
            for _ in range(cfg["reps"]):
                cpu0, t0 = one.cpu_seconds(), time.monotonic()
                rates[1].append(
                    drive.load(one.port, paths["read"], a1, cfg["seconds"], 32, LOAD_CPU).rate
                )
                busy.append((one.cpu_seconds() - cpu0) / (time.monotonic() - t0))
                rates[2].append(
                    drive.load(two.port, paths["read"], a2, cfg["seconds"], 32, LOAD_CPU).rate
                )
        res["P4"] = {"one_worker_rps": _stats(rates[1]), "two_workers_rps": _stats(rates[2])}
        res["P4"]["ratio"] = _ratios(rates[2], rates[1])
        # Both servers share CPU 0: a second worker can only add what the first one
        # leaves idle (waiting on PostgreSQL), so 1 / busy bounds the ratio.
        res["P4"]["one_worker_cpu_busy"] = _stats(busy)
    print(f"== {backend}: P2 latencies at {', '.join(sizes)} (one server each, interleaved)")
    with ExitStack() as stack:
        servers = {size: stack.enter_context(serve(urls[size])) for size in sizes}
        auths = {size: _token(servers[size]) for size in sizes}
        all_paths = {size: _paths(servers[size], auths[size]) for size in sizes}
        lat = _latency(servers, all_paths, auths, cfg)
        for size in sizes:
            res["sizes"][size] = {
                "p50_ms": {n: _stats(v) for n, v in lat[size].items()},
                "raw": lat[size],
            }
        server, auth, paths = servers[big], auths[big], all_paths[big]
        for _ in range(cfg["reps"]):  # P5: memory after load on the largest world
            for name in ("read", "caseload_first", "releases", "inbox", "timeline"):
                drive.load(server.port, paths[name], auth, 2, 16, LOAD_CPU)
        res["sizes"][big]["rss_mb"] = server.rss_mb()
    from bench.explain import explain

    org = org_id_of(urls[big], "Northtown Probation Delivery Unit")
    res["sizes"][big]["explain"] = explain(urls[big], org)
    base = res["sizes"][small]["raw"]
    top = res["sizes"][big]["raw"]
    res["P2"] = {n: _ratios(top[n], base[n]) for n in base}
    return res


def _fmt(s: dict[str, float], digits: int = 2) -> str:
    return f"{s['median']:.{digits}f} [{s['min']:.{digits}f}-{s['max']:.{digits}f}]"


def table(results: dict[str, Any]) -> str:
    """The figures with their targets, one line each."""
    rows = [("figure", "backend", "median [min-max]", "target", "met")]

    def add(fig: str, be: str, s: dict[str, float], target: str, ok: bool, digits: int = 2) -> None:
        rows.append((fig, be, _fmt(s, digits), target, "yes" if ok else "NO"))

    for be, r in results["backends"].items():
        p1t = {
            "read": 0.25 if be == "sqlite" else 0.15,
            "list50": 0.08,
            "plan": 0.10,
            "timeline": 0.10,
        }
        for name, ratio in r["P1"].items():
            if be == "postgres" and name != "read":
                rows.append((f"P1 {name} / healthz", be, _fmt(ratio), "(no target)", "-"))
                continue
            add(f"P1 {name} / healthz", be, ratio, f">= {p1t[name]}", ratio["median"] >= p1t[name])
        small, big = next(iter(r["sizes"])), list(r["sizes"])[-1]
        for name, ratio in r["P2"].items():
            add(f"P2 {name} p50 {big}/{small}", be, ratio, "<= 1.5", ratio["median"] <= 1.5)
        for name, plan in r["sizes"][big].get("explain", {}).items():
            rows.append(
                (
                    f"P2 plan {name} ({big})",
                    be,
                    plan["execution"] or "-",
                    "no seq scan/sort",
                    "yes" if plan["ok"] else "NO",
                )
            )
        add(
            "P3 audited / unaudited read",
            be,
            r["P3"]["ratio"],
            ">= 0.8",
            r["P3"]["ratio"]["median"] >= 0.8,
        )
        if "P4" in r:
            add(
                "P4 2 workers / 1 worker",
                be,
                r["P4"]["ratio"],
                ">= 1.7",
                r["P4"]["ratio"]["median"] >= 1.7,
            )
            if "one_worker_cpu_busy" in r["P4"]:
                busy = r["P4"]["one_worker_cpu_busy"]
                rows.append(
                    (
                        "P4 one worker's CPU busy (ceiling 1/busy)",
                        be,
                        _fmt(busy),
                        f"<= {1 / 1.7:.2f} for 1.7 to be possible",
                        "-",
                    )
                )
        rss = r["sizes"][big].get("rss_mb", [])
        if rss:
            s = {"median": max(rss), "min": min(rss), "max": max(rss)}
            add(f"P5 RSS per worker MB ({big})", be, s, "<= 150", max(rss) <= 150, 0)
    widths = [max(len(str(row[i])) for row in rows) for i in range(5)]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


def main() -> None:
    if sys.argv[1:] == ["--table"]:  # the table of the last run, again
        print(table(json.loads((ROOT / "bench" / "results" / "latest.json").read_text())))
        return
    quick = os.environ.get("QUICK", "") not in ("", "0")
    sizes = os.environ.get("BENCH_SIZES", "1k,100k" if quick else "1k,100k,1m").lower().split(",")
    backends = os.environ.get("BENCH_BACKENDS", "sqlite,postgres").split(",")
    cfg = {
        "reps": int(os.environ.get("BENCH_REPS", "3")),
        "seconds": float(os.environ.get("BENCH_SECONDS", "3" if quick else "5")),
    }
    drive.ensure_wrk()
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    results: dict[str, Any] = {
        "started": started.isoformat(),
        "config": {"sizes": sizes, "backends": backends, **cfg},
        "machine": {"cpus": os.cpu_count(), "loadavg_before": load_before},
        "load_tool": "wrk" if drive.ensure_wrk() else "python",
        "backends": {},
    }
    for backend in backends:
        results["backends"][backend] = bench_backend(backend, sizes, cfg)
        results["backends"][backend]["measured"] = datetime.now(UTC).isoformat()
    results["machine"]["loadavg_after"] = os.getloadavg()
    results["seconds"] = (datetime.now(UTC) - started).total_seconds()
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    latest = out / "latest.json"
    if latest.exists() and os.environ.get("BENCH_KEEP_OTHER_BACKENDS") == "1":
        # a run of one backend keeps the other backend's figures from the previous run
        previous = json.loads(latest.read_text()).get("backends", {})
        results["backends"] = {**previous, **results["backends"]}
    latest.write_text(json.dumps(results, indent=2, default=str))
    for be, r in results["backends"].items():
        for name, plan in r["sizes"][sizes[-1]].get("explain", {}).items():
            print(f"\n-- {be} {sizes[-1]}: EXPLAIN {name}\n{plan['plan']}")
    print(
        f"\nmachine: {os.cpu_count()} CPUs, load average {load_before[0]:.1f} before /"
        f" {results['machine']['loadavg_after'][0]:.1f} after (shared machine: compare ratios),"
        f" load tool {results['load_tool']}, {cfg['reps']} reps x {cfg['seconds']} s"
    )
    print(table(results))
    print(f"\nwritten: {out / 'latest.json'}")


if __name__ == "__main__":
    main()
