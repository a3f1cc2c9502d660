"""The ASGI app the bench serves: the product's app, plus (P3 only) the audit write
switched off.

Deliberately not a setting of the product: nothing in `app/` reads it, the settings
documentation does not mention it, and `throughcare serve` cannot load it. It takes
effect only when this module is the server's app (`uvicorn bench.server:app`), with
THROUGHCARE_BENCH=1 AND BENCH_AUDIT=off AND a database the bench created (a file under
var/bench/ or a PostgreSQL database named tc_bench_*); otherwise it refuses to start.
"""

import os
import sys
from pathlib import Path
from typing import Any

from app.main import app

__all__ = ["app"]

_ROOT = Path(__file__).resolve().parent.parent


def _bench_database(url: str) -> bool:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///")).resolve()
        return (_ROOT / "var" / "bench") in path.parents
    return url.rsplit("/", 1)[-1].startswith("tc_bench_")


if os.environ.get("BENCH_AUDIT", "on") != "on":
    url = os.environ.get("THROUGHCARE_DATABASE_URL", "")
    if os.environ.get("BENCH_AUDIT") != "off" or os.environ.get("THROUGHCARE_BENCH") != "1":
        sys.exit("bench.server: BENCH_AUDIT=off needs THROUGHCARE_BENCH=1 (bench only)")
    if not _bench_database(url):
        sys.exit("bench.server: auditing can be switched off only on a bench database")
    import app.sharing.gate as gate_module

    if not hasattr(gate_module, "append_events"):
        sys.exit("bench.server: the gate no longer calls append_events; update the bench")

    def _no_audit(session: Any, drafts: list[Any]) -> list[Any]:
        return []  # the events are built (same work) but not written

    gate_module.append_events = _no_audit  # type: ignore[attr-defined]
    print("bench.server: AUDITING SWITCHED OFF (bench only, P3)", file=sys.stderr)
