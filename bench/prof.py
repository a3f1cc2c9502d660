"""In-process profile of the bench's P1 requests (no HTTP, no uvicorn): per-request CPU time
of /healthz, GET /api/v1/participants/{id}, a list of 50, the plan and the timeline through
the whole ASGI stack, optionally cProfile of one of them.

Needs a migrated, seeded database; the bench's 1k world has caseloads of 50 and more:
    .venv/bin/python -c "from bench.worlds import ensure_world; ensure_world('sqlite', 1000)"
    export THROUGHCARE_DATABASE_URL=sqlite:///var/bench/sqlite-1k.db \
        THROUGHCARE_SIGNING_KEY_PATH=var/bench/key.pem
(or `throughcare migrate && throughcare seed-demo` on a database of your own)
    python -m bench.prof                         # timings only
    python -m bench.prof cumulative 60           # plus cProfile of the read, sorted, top N
    python -m bench.prof tottime 40 list50       # ... of another request (read, list50,
                                                 #     plan, timeline)
With a profile, the thread-pool work (`def` routes, the session dependency) runs inline on
the loop so cProfile sees it (`anyio.to_thread.run_sync` replaced, profile only).
CPU time (process_time) is used so a busy machine disturbs the figures less; each figure
is the median of BENCH_PROF_REPS (default 5) rounds.
"""

import asyncio
import cProfile
import os
import pstats
import statistics
import sys
import time

import anyio.to_thread
from fastapi.testclient import TestClient

from app.main import app

c = TestClient(app)
tok = c.post(
    "/api/v1/auth/token",
    data={
        "grant_type": "password",
        "username": "probation-officer",
        "password": "demo-password-not-for-production",
    },
).json()["access_token"]
_auth = {"Authorization": f"Bearer {tok}"}
_items = c.get("/api/v1/participants?limit=50", headers=_auth).json()["items"]
pid = next(
    (
        i["id"]
        for i in _items
        if c.get(f"/api/v1/participants/{i['id']}/plan", headers=_auth).is_success
    ),
    _items[0]["id"],
)
PATHS = {
    "healthz": "/healthz",
    "read": f"/api/v1/participants/{pid}",
    "list50": "/api/v1/participants?limit=50",
    "plan": f"/api/v1/participants/{pid}/plan",
    "timeline": f"/api/v1/participants/{pid}/timeline",
}
COUNTS = {"healthz": 2000, "read": 300, "list50": 30, "plan": 200, "timeline": 200}


async def call(path, headers):
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    out = []

    async def send(m):
        out.append(m)

    await app(scope, receive, send)
    return out[0]["status"]


async def bench(path, headers, n):
    for _ in range(min(n, 20)):
        await call(path, headers)
    t = time.process_time()
    for _ in range(n):
        status = await call(path, headers)
        assert status == 200, (path, status)
    return (time.process_time() - t) / n


async def _inline(func, *args, **_kw):
    return func(*args)


async def main():
    if os.environ.get("BENCH_PROF_INLINE") == "1":  # what the thread-pool hops cost
        anyio.to_thread.run_sync = _inline
    h = {"authorization": f"Bearer {tok}"}
    reps = int(os.environ.get("BENCH_PROF_REPS", "5"))
    only = os.environ.get("BENCH_PROF_ONLY")  # e.g. read,timeline (healthz always)
    names = ["healthz", *(only.split(",") if only else [n for n in PATHS if n != "healthz"])]
    res = {name: [] for name in names}
    for _ in range(reps):
        for name in names:
            res[name].append(await bench(PATHS[name], h if name != "healthz" else {}, COUNTS[name]))
    hz = statistics.median(res["healthz"])
    print("in-process CPU per request, median of", reps, "rounds [min-max]:")
    for name, values in res.items():
        med = statistics.median(values)
        print(
            f"  {name:9s} {med * 1e6:8.0f} us [{min(values) * 1e6:.0f}-{max(values) * 1e6:.0f}]"
            f"  healthz/this {hz / med:.3f}"
        )
    if len(sys.argv) > 1:
        anyio.to_thread.run_sync = _inline
        which = sys.argv[3] if len(sys.argv) > 3 else "read"
        pr = cProfile.Profile()
        pr.enable()
        for _ in range(COUNTS[which]):
            await call(PATHS[which], h)
        pr.disable()
        stats = pstats.Stats(pr)
        stats.sort_stats(sys.argv[1]).print_stats(int(sys.argv[2]) if len(sys.argv) > 2 else 25)
        by_package: dict[str, float] = {}
        for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
            part = filename.split("site-packages/")[-1].split("/")[0]
            if "/app/" in filename:
                part = "app/" + filename.split("/app/")[-1]
            by_package[part] = by_package.get(part, 0.0) + tottime
        total = sum(by_package.values())
        print("own time by package / app module:")
        for part, own in sorted(by_package.items(), key=lambda kv: -kv[1])[:30]:
            print(f"  {own / total * 100:5.1f} %  {part}")


asyncio.run(main())
