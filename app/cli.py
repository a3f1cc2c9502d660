"""The `throughcare` command: serve, migrate, seed the demo, manage accounts, mint tokens."""

import json
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from sqlmodel import Session, select

from app.core.errors import AppError
from app.core.settings import get_settings

cli = typer.Typer(
    help="Throughcare: consent-governed interagency data sharing.", no_args_is_help=True
)
audit_cli = typer.Typer(help="The disclosure log's hash chain.", no_args_is_help=True)
cli.add_typer(audit_cli, name="audit")
retention_cli = typer.Typer(
    help="Retention periods: drafts and ended records.", no_args_is_help=True
)
cli.add_typer(retention_cli, name="retention")
engagement_cli = typer.Typer(help="Engagement after release.", no_args_is_help=True)
cli.add_typer(engagement_cli, name="engagement")
documents_cli = typer.Typer(help="Documents attached to case notes.", no_args_is_help=True)
cli.add_typer(documents_cli, name="documents")
db_cli = typer.Typer(help="Database roles and privileges.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
webhooks_cli = typer.Typer(help="Webhook subscriptions' stored secrets.", no_args_is_help=True)
cli.add_typer(webhooks_cli, name="webhooks")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _emit(as_json: bool, payload: dict[str, Any], text: str) -> None:
    if as_json:
        typer.echo(json.dumps(payload, default=str))
    else:
        typer.echo(text)


def _fail(as_json: bool, message: str, code: int = 1) -> None:
    if as_json:
        typer.echo(json.dumps({"error": message}))
    else:
        typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _session() -> Session:
    from app.core.db import get_engine

    return Session(get_engine(), expire_on_commit=False)


def run_migrations(url: str | None = None) -> None:
    """Upgrade the database to the newest schema."""
    from alembic import command
    from alembic.config import Config

    root = Path(__file__).resolve().parent.parent
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    # The owner role: the service's own role may not create or alter tables.
    config.attributes["database_url"] = url or get_settings().owner_database_url
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")


@cli.command()
def migrate(as_json: JsonOpt = False) -> None:
    """Upgrade the database schema to the newest migration."""
    run_migrations()
    _emit(as_json, {"migrated": True}, "database is at the newest schema")


@cli.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Serve the API with uvicorn (and the delivery worker, if `embedded_worker` is set).

    With more than one worker process the request metrics are shared through files in
    `metrics_multiproc_dir` (emptied now), so every scrape of /metrics sums them all."""
    import uvicorn

    if workers > 1:
        from app.core.metrics import prepare_multiprocess_dir

        prepare_multiprocess_dir(str(get_settings().metrics_multiproc_dir))

    if get_settings().embedded_worker:
        from app.services.worker import start_embedded

        start_embedded()
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        proxy_headers=True,
    )


@cli.command()
def worker(
    once: Annotated[bool, typer.Option(help="Run one delivery round and exit.")] = False,
) -> None:
    """Deliver webhooks: fan out new events, send due deliveries, retry failures."""
    import signal
    import threading

    from app.services.worker import run_forever, run_once

    if once:
        typer.echo(f"sent {run_once()}")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        run_forever(stop)
    except KeyboardInterrupt:
        stop.set()


@cli.command()
def backup(
    path: Annotated[Path, typer.Argument(help="File to write the backup to")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write a consistent backup of the live database (SQLite backup API / pg_dump)."""
    from app.core.backup import BackupError, backup_database

    if path.exists() and not force:
        _fail(as_json, f"{path} exists (pass --force to overwrite it)")
    try:
        summary = backup_database(get_settings().database_url, path)
    except BackupError as exc:
        _fail(as_json, str(exc))
        return
    _emit(as_json, {"backup": str(path), **summary}, f"backup written to {path}")


@cli.command()
def restore(
    path: Annotated[Path, typer.Argument(help="A file written by `throughcare backup`")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a database that already has data")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Restore a backup into the configured database, then verify the audit log."""
    from app.core.backup import BackupError, restore_database

    try:
        summary = restore_database(get_settings().database_url, path, force=force)
    except BackupError as exc:
        _fail(as_json, str(exc))
        return
    _emit(as_json, {"restored": str(path), **summary}, f"restored from {path}")
    # Exactly what `throughcare audit verify` checks (whatever that grows to include);
    # it exits non-zero when the restored log does not verify.
    audit_verify(as_json=as_json)


@cli.command("create-org")
def create_org(
    name: Annotated[str, typer.Option()],
    kind: Annotated[str, typer.Option()],
    as_json: JsonOpt = False,
) -> None:
    """Register an organisation."""
    from app.models.organisation import OrganisationCreate
    from app.services.accounts import create_organisation

    try:
        data = OrganisationCreate.model_validate({"name": name, "kind": kind})
        with _session() as session:
            org = create_organisation(session, data)
            session.commit()
    except (ValidationError, AppError) as exc:
        _fail(as_json, _message(exc))
        return
    _emit(as_json, {"id": org.id, "name": org.name, "kind": org.kind}, f"organisation {org.id}")


@cli.command("create-user")
def create_user(
    org: Annotated[uuid.UUID, typer.Option(help="Organisation id")],
    username: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option()],
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    participant: Annotated[uuid.UUID | None, typer.Option(help="For role participant")] = None,
    display_name: Annotated[str, typer.Option()] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create a user account; the password is read from standard input."""
    from app.models.organisation import UserCreate
    from app.services.accounts import create_user as create

    if not password_stdin:
        _fail(as_json, "pass --password-stdin and the password on standard input")
    password = sys.stdin.readline().rstrip("\n")
    try:
        data = UserCreate.model_validate(
            {
                "organisation_id": org,
                "username": username,
                "role": role,
                "password": password,
                "participant_id": participant,
                "display_name": display_name,
            }
        )
        with _session() as session:
            user = create(session, data)
            session.commit()
    except (ValidationError, AppError) as exc:
        _fail(as_json, _message(exc))
        return
    _emit(as_json, {"id": user.id, "username": user.username, "role": user.role}, f"user {user.id}")


@cli.command("create-client")
def create_client(
    org: Annotated[uuid.UUID, typer.Option(help="Organisation id")],
    name: Annotated[str, typer.Option()],
    scopes: Annotated[str, typer.Option(help="Space-separated scopes")],
    as_json: JsonOpt = False,
) -> None:
    """Register a partner-system client and print its secret (shown once)."""
    from app.models.organisation import ApiClientCreate
    from app.services.accounts import create_client as create

    try:
        data = ApiClientCreate.model_validate(
            {"organisation_id": org, "name": name, "scopes": scopes.split()}
        )
        with _session() as session:
            client, secret = create(session, data)
            session.commit()
    except (ValidationError, AppError) as exc:
        _fail(as_json, _message(exc))
        return
    _emit(
        as_json,
        {
            "id": client.id,
            "client_id": client.client_id,
            "client_secret": secret,
            "scopes": client.scopes,
        },
        f"client_id: {client.client_id}\nclient_secret: {secret}\n(the secret is not shown again)",
    )


@cli.command()
def token(
    client_id: Annotated[str | None, typer.Option()] = None,
    username: Annotated[str | None, typer.Option()] = None,
    scope: Annotated[str | None, typer.Option()] = None,
    secret_stdin: Annotated[
        bool, typer.Option("--secret-stdin", help="Read the client secret or password")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Print an access token for a client or user (credentials on standard input)."""
    from app.auth.issue import token_for_client, token_for_user
    from app.services.accounts import authenticate_client, authenticate_user

    if bool(client_id) == bool(username) or not secret_stdin:
        _fail(as_json, "give --client-id or --username, and --secret-stdin")
    secret = sys.stdin.readline().rstrip("\n")
    with _session() as session:
        try:
            if client_id:
                found_client = authenticate_client(session, client_id, secret)
                if found_client is None:
                    _fail(as_json, "invalid client credentials")
                    return
                issued = token_for_client(*found_client, requested=scope)
            else:
                found_user = authenticate_user(session, str(username), secret)
                if found_user is None:
                    _fail(as_json, "invalid username or password")
                    return
                issued = token_for_user(*found_user, requested=scope)
        except AppError as exc:
            _fail(as_json, _message(exc))
            return
    _emit(as_json, issued.model_dump(), issued.access_token)


@cli.command("seed-demo")
def seed_demo(
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Only into an empty database")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create the synthetic demo world and print its credentials."""
    from app.demo import seed
    from app.models.organisation import Organisation

    with _session() as session:
        if if_empty and session.exec(select(Organisation.id)).first() is not None:
            _emit(
                as_json,
                {"seeded": False},
                "Database already has data; demo not seeded. Demo users (if this is the demo "
                "database) sign in with the password 'demo-password-not-for-production', e.g.\n"
                "  curl -s -X POST http://127.0.0.1:8000/api/v1/auth/token "
                "-d grant_type=password -d username=coordinator "
                "-d password=demo-password-not-for-production",
            )
            return
        credentials = seed(session)
        session.commit()
    _emit(as_json, {"seeded": True, **credentials}, _credentials_text(credentials))


def _credentials_text(credentials: dict[str, Any]) -> str:
    lines = ["Demo world created (synthetic data).", "", "Users (password for all below):"]
    lines.append(f"  password: {credentials['password']}")
    for user in credentials["users"]:
        lines.append(f"  {user['username']:<24} {user['role']:<14} {user['organisation']}")
    lines += ["", "Partner-system clients:"]
    for client in credentials["clients"]:
        lines.append(
            f"  {client['client_id']}  secret {client['client_secret']}  ({client['organisation']})"
        )
    lines += [
        "",
        "Get a token:",
        "  curl -s -X POST http://127.0.0.1:8000/api/v1/auth/token \\",
        f"    -d grant_type=password -d username={credentials['users'][0]['username']} "
        f"-d password={credentials['password']}",
    ]
    return "\n".join(lines)


@audit_cli.command("verify")
def audit_verify(as_json: JsonOpt = False) -> None:
    """Check every audit chain, then the chains against the signed checkpoints.

    Exit 1: a chain is broken inside the database; 2: the database no longer holds what a
    checkpoint signed (rewrite, cut tail, truncation, rollback); 3: a checkpoint is not
    validly signed.
    """
    from app.sharing.audit_report import verify_report

    report, code = verify_report(get_settings())
    _emit(as_json, report, report["summary"])
    if code:
        raise typer.Exit(code)


@audit_cli.command("checkpoint")
def audit_checkpoint(as_json: JsonOpt = False) -> None:
    """Sign every chain head now and append the checkpoint to the checkpoint file."""
    from app.core.db import get_engine
    from app.sharing.checkpoints import CheckpointRefused, checkpoint_now

    settings = get_settings()
    try:
        record = checkpoint_now(get_engine(), settings)
    except CheckpointRefused as refused:
        payload = {"written": False, "findings": [f.as_dict() for f in refused.findings]}
        _emit(as_json, payload, f"checkpoint REFUSED: {refused}")
        raise typer.Exit(2) from None
    rows = sum(seq for _, seq, _ in record["heads"])
    path = settings.audit_checkpoint_dir / "checkpoints.jsonl"
    _emit(
        as_json,
        {"written": True, "at": record["at"], "rows": rows, "file": str(path)},
        f"checkpoint of {len(record['heads'])} chains ({rows} rows) at {record['at']} -> {path}",
    )


@retention_cli.command("run")
def retention_run(
    apply: Annotated[
        bool, typer.Option("--apply", help="Delete for real (default: dry run).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """List (dry run) or delete stale draft referrals and long-ended records; the access
    log keeps a row for each removal."""
    from datetime import UTC, datetime

    from app.services import retention

    settings = get_settings()
    now = datetime.now(UTC)
    with _session() as session:
        if apply:
            found = retention.run(session, now, settings)
            session.commit()
        else:
            found = retention.plan(session, now, settings)
    payload = {"applied": apply, **found}
    verb = "removed" if apply else "would remove"
    _emit(
        as_json,
        payload,
        f"{verb} {len(found['participants'])} participant record(s) and "
        f"{len(found['draft_referrals'])} draft referral(s)",
    )


@db_cli.command("grant")
def db_grant(
    role: Annotated[str, typer.Option(help="The application role the service connects as")],
    as_json: JsonOpt = False,
) -> None:
    """Set the application role's privileges on every table (PostgreSQL; run as owner)."""
    from sqlalchemy.engine import make_url

    from app.core.db import make_engine
    from app.core.roles import grant_app_role

    url = get_settings().owner_database_url
    if make_url(url).get_backend_name() != "postgresql":
        _fail(as_json, "database roles exist on PostgreSQL only")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            report = grant_app_role(conn, role)
    except ValueError as exc:
        _fail(as_json, f"role {role}: {exc}")
        return
    finally:
        engine.dispose()
    _emit(
        as_json,
        {"granted": True, "role": report.role, "schema": report.schema, "tables": report.tables},
        f"role {report.role}: read/write on {report.tables} tables in {report.schema}, "
        f"insert-only on {', '.join(report.append_only)}, "
        f"read-only on {', '.join(report.read_only)}",
    )


@engagement_cli.command("scan")
def engagement_scan(as_json: JsonOpt = False) -> None:
    """Raise the engagement notices due (missed first appointments, no contact by day N)."""
    from app.services.engagement_notices import scan

    with _session() as session:
        counts = scan(session)
        session.commit()
    _emit(
        as_json,
        counts,
        f"{counts['participants']} released participant(s) checked, "
        f"{counts['notices']} new notice(s)",
    )


@documents_cli.command("rescan")
def documents_rescan(as_json: JsonOpt = False) -> None:
    """Scan the documents held as pending (run when the ClamAV daemon is back)."""
    from app.services.documents import rescan_pending

    with _session() as session:
        counts = rescan_pending(session)
        session.commit()
    _emit(
        as_json,
        counts,
        f"{counts['clean']} clean, {counts['infected']} infected, "
        f"{counts['pending']} still pending",
    )


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return str(exc)


def main() -> None:
    """Entry point of the console script."""
    cli()


if __name__ == "__main__":
    main()


@webhooks_cli.command("reencrypt")
def webhooks_reencrypt(as_json: JsonOpt = False) -> None:
    """Rewrite every stored webhook secret under the current key file
    (THROUGHCARE_WEBHOOK_SECRET_KEY_PATH), reading old values with the files listed in
    THROUGHCARE_WEBHOOK_SECRET_PREVIOUS_KEY_PATHS. Run it after replacing the key; once it
    reports nothing unreadable, the previous key files can be retired. Exits 1 when some
    value opens under no configured key (those rows are left as they were)."""
    from app.services.webhooks import reencrypt_all

    with _session() as session:
        done = reencrypt_all(session)
        session.commit()
    payload = {
        "rewritten": done.rewritten,
        "already_current": done.current,
        "unreadable": done.unreadable,
    }
    text = (
        f"rewritten {done.rewritten}, already under the current key {done.current}, "
        f"unreadable {len(done.unreadable)}"
        + "".join(f"\n  unreadable: {where}" for where in done.unreadable)
    )
    _emit(as_json, payload, text)
    if done.unreadable:
        raise typer.Exit(1)
