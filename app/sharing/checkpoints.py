"""Signed checkpoints of the audit chains, kept outside the database (decision 0005).

A checkpoint is one JSON line: the time, every stripe's head (stripe, seq, hash) and an
Ed25519 signature by a key that lives in a file the database never sees. It is only
written after the chains verify from the previous checkpoint, so a row rewritten, cut or
rolled back behind a checkpoint can no longer be made to look intact from inside the
database: `compare_with_checkpoints` finds it.
"""

import base64
import hashlib
import json
import logging
import os
import stat
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Engine, func
from sqlalchemy import select as core_select
from sqlmodel import Session

from app.core.db import READ_ONLY
from app.core.settings import Settings
from app.models.audit import AccessEvent, AuditChainHead
from app.sharing.audit import GENESIS, verify_chain

log = logging.getLogger("throughcare.audit")
CHECKPOINT_FILE = "checkpoints.jsonl"
Heads = dict[int, tuple[int, str]]
_events = AccessEvent.__table__  # type: ignore[attr-defined]
_heads = AuditChainHead.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint line: when, and every stripe's head then."""

    line: int
    at: datetime
    heads: Heads


@dataclass(frozen=True)
class Finding:
    """One thing wrong: with the chain against a checkpoint, or with a checkpoint itself."""

    kind: str  # rewrite | cut_tail | rollback | truncation | bad_signature | unreadable
    detail: str
    stripe: int | None = None
    checkpoint_seq: int | None = None
    database_seq: int | None = None
    checkpoint_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data, without empty fields."""
        return {k: v for k, v in asdict(self).items() if v is not None}


class CheckpointRefused(Exception):
    """The chains do not continue the last checkpoint (or do not verify): nothing signed."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__("; ".join(f.detail for f in findings))
        self.findings = findings


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def load_key(path: Path, create: bool = True) -> Ed25519PrivateKey:
    """The checkpoint signing key; generated (mode 0600) on first use."""
    if not path.exists() and create:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".checkpoint-key-")
        try:
            os.write(fd, pem)
            os.fsync(fd)
            os.close(fd)
            os.link(tmp, path)  # atomic; another process that got there first wins
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PermissionError(f"{path} must be readable by its owner only (chmod 600)")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def key_id(public: Ed25519PublicKey) -> str:
    """A short fingerprint of the public key (names the key in every checkpoint)."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _signed_bytes(record: dict[str, Any]) -> bytes:
    body = {k: v for k, v in record.items() if k != "sig"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def read_heads(session: Session) -> Heads:
    """Every stripe's head as the database records it."""
    rows = session.execute(core_select(_heads.c.stripe, _heads.c.seq, _heads.c.hash)).all()
    return {int(s): (int(q), str(h)) for s, q, h in rows}


def append_checkpoint(directory: Path, key: Ed25519PrivateKey, heads: Heads) -> dict[str, Any]:
    """Sign the heads with the time and append them as one line (fsynced)."""
    record: dict[str, Any] = {
        "v": 1,
        "at": _timestamp(datetime.now(UTC)),
        "key_id": key_id(key.public_key()),
        "heads": [[s, q, h] for s, (q, h) in sorted(heads.items())],
    }
    record["sig"] = base64.b64encode(key.sign(_signed_bytes(record))).decode()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
    # One write() on an O_APPEND descriptor: lines from several workers never interleave.
    fd = os.open(directory / CHECKPOINT_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return record


def read_checkpoints(
    directory: Path, public: Ed25519PublicKey
) -> tuple[list[Checkpoint], list[Finding]]:
    """The checkpoints whose signature holds, in file order, and findings for the rest."""
    path = directory / CHECKPOINT_FILE
    if not path.exists():
        return [], []
    good: list[Checkpoint] = []
    bad: list[Finding] = []
    expected_key = key_id(public)
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
            signature = base64.b64decode(record["sig"], validate=True)
            heads = {int(s): (int(q), str(h)) for s, q, h in record["heads"]}
            at = datetime.strptime(record["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        except (ValueError, KeyError, TypeError) as exc:
            bad.append(Finding("unreadable", f"checkpoint line {number} cannot be read: {exc}"))
            continue
        try:
            if record.get("key_id") != expected_key:
                raise InvalidSignature
            public.verify(signature, _signed_bytes(record))
        except InvalidSignature:
            bad.append(
                Finding(
                    "bad_signature",
                    f"checkpoint line {number} is not signed by the configured key "
                    f"({expected_key}): altered or forged",
                    checkpoint_at=record.get("at"),
                )
            )
            continue
        good.append(Checkpoint(number, at, heads))
    return good, bad


def _hash_at(session: Session, stripe: int, seq: int) -> str | None:
    found = session.execute(
        core_select(_events.c.hash).where(_events.c.stripe == stripe, _events.c.seq == seq)
    ).scalar_one_or_none()
    return None if found is None else str(found)


def _newest_match(session: Session, checkpoints: list[Checkpoint], stripe: int) -> str:
    """Which checkpoint the stripe still agrees with (for the operator's report)."""
    for cp in reversed(checkpoints):
        seq, digest = cp.heads.get(stripe, (0, GENESIS))
        if seq == 0 or _hash_at(session, stripe, seq) == digest:
            return f"it still agrees with the checkpoint of {_timestamp(cp.at)} (seq {seq})"
    return "it agrees with no checkpoint"


def compare_with_checkpoints(session: Session, checkpoints: list[Checkpoint]) -> list[Finding]:
    """Where the database's chains do not contain what the newest checkpoint recorded."""
    if not checkpoints:
        return []
    latest = checkpoints[-1]
    at = _timestamp(latest.at)
    last_rows = {
        int(s): int(q)
        for s, q in session.execute(
            core_select(_events.c.stripe, func.max(_events.c.seq)).group_by(_events.c.stripe)
        ).all()
    }
    recorded = sum(seq for seq, _ in latest.heads.values())
    if not last_rows and recorded:
        return [
            Finding(
                "truncation",
                f"the access log is empty but the checkpoint of {at} recorded {recorded} rows",
                checkpoint_at=at,
            )
        ]
    heads = read_heads(session)
    findings: list[Finding] = []
    for stripe, (cp_seq, cp_hash) in sorted(latest.heads.items()):
        db_seq = last_rows.get(stripe, 0)
        where: dict[str, Any] = {
            "stripe": stripe,
            "checkpoint_seq": cp_seq,
            "database_seq": db_seq,
            "checkpoint_at": at,
        }
        if cp_seq == 0:
            continue
        if db_seq >= cp_seq:
            if _hash_at(session, stripe, cp_seq) != cp_hash:
                findings.append(
                    Finding(
                        "rewrite",
                        f"stripe {stripe}: the row at seq {cp_seq} is not the one the "
                        f"checkpoint of {at} signed (rows re-hashed or replaced); "
                        + _newest_match(session, checkpoints, stripe),
                        **where,
                    )
                )
            continue
        last_hash = _hash_at(session, stripe, db_seq) if db_seq else GENESIS
        consistent = heads.get(stripe) == (db_seq, last_hash)
        kind = "rollback" if consistent else "cut_tail"
        why = (
            "the database is consistent but older: a restored older backup, or rows cut "
            "by someone who also reset the chain head"
            if consistent
            else "rows were removed from the end of the chain"
        )
        findings.append(
            Finding(
                kind,
                f"stripe {stripe}: rows {db_seq + 1}..{cp_seq} signed in the checkpoint of {at} "
                f"are gone ({why}); " + _newest_match(session, checkpoints, stripe),
                **where,
            )
        )
    return findings


@contextmanager
def snapshot_session(engine: Engine) -> Iterator[Session]:
    """A read-only session on one consistent snapshot (rows committed meanwhile unseen)."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        else:
            # WAL: a deferred read transaction is a snapshot, and takes no write lock.
            conn.execution_options(**{READ_ONLY: True})
        with Session(bind=conn) as session:
            try:
                yield session
            finally:
                session.rollback()


def write_checkpoint(session: Session, key_path: Path, directory: Path) -> dict[str, Any]:
    """Sign the current heads, if the chains verify and continue the last checkpoint."""
    key = load_key(key_path)
    checkpoints, _bad = read_checkpoints(directory, key.public_key())
    findings = compare_with_checkpoints(session, checkpoints)
    since = checkpoints[-1].heads if checkpoints and not findings else None
    if not findings:
        check = verify_chain(session, since=since)
        if not check.ok:
            findings.append(
                Finding(
                    "broken_chain",
                    f"stripe {check.stripe} seq {check.first_broken_seq}: {check.problem}",
                    stripe=check.stripe,
                    database_seq=check.first_broken_seq,
                )
            )
    if findings:
        raise CheckpointRefused(findings)
    return append_checkpoint(directory, key, read_heads(session))


def checkpoint_now(engine: Engine, settings: Settings) -> dict[str, Any]:
    """Write one checkpoint of the configured database (raises CheckpointRefused)."""
    with snapshot_session(engine) as session:
        return write_checkpoint(
            session, settings.audit_checkpoint_key_path, settings.audit_checkpoint_dir
        )


class CheckpointThread(threading.Thread):
    """Writes a checkpoint every `interval` seconds in the serving process until stopped."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        super().__init__(name="audit-checkpoints", daemon=True)
        self.engine, self.settings = engine, settings
        self.stopping = threading.Event()

    def run(self) -> None:
        """Checkpoint, then wait; never let a failure end the thread."""
        while not self.stopping.wait(self.settings.audit_checkpoint_interval_seconds):
            try:
                checkpoint_now(self.engine, self.settings)
            except CheckpointRefused as refused:
                # Loud on purpose: the log no longer continues what was signed before.
                log.error("audit checkpoint refused: %s", refused)
            except Exception:
                log.exception("audit checkpoint failed")


@asynccontextmanager
async def checkpoint_lifespan(_app: Any) -> AsyncIterator[None]:
    """Run the checkpoint thread for the life of the serving process (if enabled)."""
    from app.core.db import get_engine
    from app.core.settings import get_settings

    settings = get_settings()
    thread = None
    if settings.audit_checkpoint_interval_seconds > 0:
        thread = CheckpointThread(get_engine(), settings)
        thread.start()
    try:
        yield
    finally:
        if thread is not None:
            thread.stopping.set()
            thread.join(timeout=5)
