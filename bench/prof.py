"""In-process profile of the protected read (no HTTP, no uvicorn): per-request CPU time of
/healthz and GET /api/v1/participants/{id} through the whole ASGI stack, optionally cProfile.

Needs a migrated, seeded database:
    export THROUGHCARE_DATABASE_URL=sqlite:////tmp/p.db THROUGHCARE_SIGNING_KEY_PATH=/tmp/key.pem
    throughcare migrate && throughcare seed-demo
    python -m bench.prof                   # timings only
    python -m bench.prof cumulative 60     # plus cProfile, sorted, top N
CPU time (process_time) is used so a busy machine disturbs the figures less.
"""

import asyncio
import cProfile
import pstats
import sys
import time

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
pid = c.get("/api/v1/participants?limit=1", headers={"Authorization": f"Bearer {tok}"}).json()[
    "items"
][0]["id"]


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
    for _ in range(50):
        await call(path, headers)
    t = time.process_time()
    for _ in range(n):
        assert await call(path, headers) == 200
    return (time.process_time() - t) / n


async def main():
    h = {"authorization": f"Bearer {tok}"}
    hz = await bench("/healthz", {}, 2000)
    rd = await bench(f"/api/v1/participants/{pid}", h, 500)
    ls = await bench("/api/v1/participants?limit=25", h, 100)
    print(
        f"in-process CPU per request: healthz {hz * 1e6:.0f} us, read {rd * 1e6:.0f} us"
        f" (ratio {hz / rd:.2f}), list of 25 {ls * 1e6:.0f} us (ratio {hz / ls:.2f})"
    )
    if len(sys.argv) > 1:
        pr = cProfile.Profile()
        pr.enable()
        for _ in range(300):
            await call(f"/api/v1/participants/{pid}", h)
        pr.disable()
        pstats.Stats(pr).sort_stats(sys.argv[1]).print_stats(
            int(sys.argv[2]) if len(sys.argv) > 2 else 25
        )


asyncio.run(main())
