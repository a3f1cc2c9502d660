"""Where the bench's worlds live and when they are (re)built.

SQLite: var/bench/sqlite-<size>-<key>.db. PostgreSQL: database tc_bench_<size> on
BENCH_POSTGRES_URL's server (default postgres@127.0.0.1:5432); the bench only ever creates
or drops databases named tc_bench_*, never another. `key` is the schema head plus
bench/world.py's WORLD_VERSION: a new generator version rebuilds the world; a new
migration only migrates the cached world forward (BENCH_REBUILD=1 rebuilds anyway).
"""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "bench"
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def schema_key() -> str:
    """The Alembic head(s) and the generator's version."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from bench.world import WORLD_VERSION

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    heads = "+".join(sorted(ScriptDirectory.from_config(config).get_heads()))
    return f"{heads}-w{WORLD_VERSION}"


def _label(size: int) -> str:
    return f"{size // 1_000_000}m" if size >= 1_000_000 else f"{size // 1000}k"


def _cli(url: str, *args: str) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "THROUGHCARE_DATABASE_URL": url,
        "THROUGHCARE_SIGNING_KEY_PATH": str(CACHE / "key.pem"),
        "THROUGHCARE_LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _current(url: str, marker: Path, key: str) -> bool:
    """Whether the cached world can be used: built for this key, or by this generator
    version under an older schema, in which case it is migrated forward (as any
    deployment's database would be) instead of rebuilt. BENCH_REBUILD=1 rebuilds."""
    built = marker.read_text()
    if built == key:
        return True
    generator = key.rsplit("-w", 1)[1]
    if os.environ.get("BENCH_REBUILD") == "1" or built.rsplit("-w", 1)[-1] != generator:
        return False
    print(f"migrating the cached world {marker.stem} to the current schema ...")
    _cli(url, "migrate")
    marker.write_text(key)
    return True


def ensure_world(backend: str, size: int) -> str:
    """The SQLAlchemy URL of a cached world of `size` participants, built if missing."""
    from bench.world import load_world

    CACHE.mkdir(parents=True, exist_ok=True)
    key = schema_key()
    label = _label(size)
    marker = CACHE / f"{backend}-{label}.key"
    if backend == "sqlite":
        path = CACHE / f"sqlite-{label}.db"
        url = f"sqlite:///{path}"
        if path.exists() and marker.exists() and _current(url, marker, key):
            return url
        for stale in CACHE.glob(f"sqlite-{label}.db*"):
            stale.unlink()
        dsn = str(path)
    else:
        name = f"tc_bench_{label}"
        url = (
            PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
            + "/"
            + name
        )
        admin = create_engine(
            PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if exists and marker.exists() and _current(url, marker, key):
                admin.dispose()
                return url
            if exists:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        dsn = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    marker.unlink(missing_ok=True)
    print(f"generating the {label} world on {backend} (cached under {CACHE}) ...")
    start = time.monotonic()
    _cli(url, "migrate")
    _cli(url, "seed-demo")
    load_world(backend, dsn, size)
    marker.write_text(key)
    print(f"  {label} world on {backend} ready in {time.monotonic() - start:.0f} s")
    return url


def org_id_of(url: str, name: str) -> uuid.UUID:
    """An organisation's id by name (the bench caller's organisation)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        value = conn.execute(
            text("SELECT id FROM organisations WHERE name = :n"), {"n": name}
        ).scalar_one()
    engine.dispose()
    return value if isinstance(value, uuid.UUID) else uuid.UUID(hex=str(value))
