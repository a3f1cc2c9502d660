"""`throughcare audit verify`: every chain, then the chains against the signed checkpoints."""

from datetime import UTC, datetime
from typing import Any

from app.core.settings import Settings
from app.sharing.audit import verify_chain
from app.sharing.checkpoints import (
    CHECKPOINT_FILE,
    Checkpoint,
    Finding,
    compare_with_checkpoints,
    load_key,
    read_checkpoints,
    snapshot_session,
)

# Exit codes, most serious first: the first that applies is returned.
BROKEN_CHAIN, CHECKPOINT_MISMATCH, BAD_CHECKPOINT = 1, 2, 3


def _checkpoints(settings: Settings) -> tuple[list[Checkpoint], list[Finding]]:
    path = settings.audit_checkpoint_dir / CHECKPOINT_FILE
    key_path = settings.audit_checkpoint_key_path
    if not key_path.exists():
        if path.exists():
            missing = f"checkpoints exist but their key {key_path} is missing: none can be checked"
            return [], [Finding("bad_signature", missing)]
        return [], []
    return read_checkpoints(
        settings.audit_checkpoint_dir, load_key(key_path, create=False).public_key()
    )


def verify_report(settings: Settings) -> tuple[dict[str, Any], int]:
    """The full verification as JSON-ready data, and the exit code (0 when all holds)."""
    from app.core.db import get_engine

    checkpoints, bad = _checkpoints(settings)
    with snapshot_session(get_engine()) as session:
        chain = verify_chain(session)
        mismatches = compare_with_checkpoints(session, checkpoints)
    code = (
        BROKEN_CHAIN
        if not chain.ok
        else CHECKPOINT_MISMATCH
        if mismatches
        else BAD_CHECKPOINT
        if bad
        else 0
    )
    latest = checkpoints[-1] if checkpoints else None
    warnings = []
    interval = settings.audit_checkpoint_interval_seconds
    age = (datetime.now(UTC) - latest.at).total_seconds() if latest else None
    if interval and age is not None and age > 2 * interval:
        warnings.append(f"the newest checkpoint is {int(age)} s old (interval {interval} s)")
    if latest is None:
        warnings.append("no checkpoint yet: rewrites that re-link the chain go unnoticed")
    findings = [f.as_dict() for f in mismatches + bad]
    report: dict[str, Any] = {
        "ok": code == 0,
        "rows": chain.rows,
        "chain": {
            "ok": chain.ok,
            "stripe": chain.stripe,
            "first_broken_seq": chain.first_broken_seq,
            "problem": chain.problem,
        },
        "checkpoints": {
            "file": str(settings.audit_checkpoint_dir / CHECKPOINT_FILE),
            "valid": len(checkpoints),
            "invalid": len(bad),
            "latest_at": latest.at.isoformat() if latest else None,
        },
        "findings": findings,
        "warnings": warnings,
    }
    lines = []
    if chain.ok:
        lines.append(f"chains intact ({chain.rows} rows)")
    else:
        lines.append(
            f"chain BROKEN: stripe {chain.stripe} at seq {chain.first_broken_seq}: {chain.problem}"
        )
    lines.append(f"checkpoints: {len(checkpoints)} valid, {len(bad)} invalid")
    lines += [f"{f['kind'].upper()}: {f['detail']}" for f in findings]
    lines += [f"warning: {w}" for w in warnings]
    report["summary"] = "\n".join(lines)
    return report, code
