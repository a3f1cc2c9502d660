"""Webhook signing secrets are encrypted at rest (AES-GCM under a key file outside the
database); the migration encrypts rows stored in clear before it, and reverses."""

import base64
import json
import uuid
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlmodel import select
from standardwebhooks import Webhook

from app.core.db import make_engine
from app.models.events import WebhookSubscription
from app.services import secret_box
from app.services.worker import run_once
from tests.integration.world import HookWorld, Receiver
from tests.migrations.test_migrations import _alembic

HOOKS = "/api/v1/webhooks"


def test_the_row_holds_ciphertext_only(hw: HookWorld, receiver: Receiver) -> None:
    sub = hw.subscribe(receiver.url)
    rotated = hw.client.post(
        f"{HOOKS}/{sub['id']}/rotate-secret", json={"grace_hours": 1}, headers=hw.housing_admin
    ).json()
    hw.db.expire_all()
    row = hw.db.exec(select(WebhookSubscription)).one()
    for clear in (sub["secret"], rotated["secret"]):
        raw = clear.removeprefix("whsec_")
        assert clear not in row.secret + str(row.previous_secret)
        assert raw not in row.secret + str(row.previous_secret)
        assert base64.b64decode(raw).hex() not in row.secret + str(row.previous_secret)
    assert row.secret.startswith("enc:v1:") and str(row.previous_secret).startswith("enc:v1:")
    # rotation with a grace period still signs with both
    hw.book()
    run_once(hw.sessions)
    [got] = receiver.received
    Webhook(sub["secret"]).verify(got.body, got.headers)
    Webhook(rotated["secret"]).verify(got.body, got.headers)


def test_ciphertext_is_bound_to_its_row_and_key(tmp_path: Path) -> None:
    key = secret_box.load_or_create_key(tmp_path / "k")
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600
    row = uuid.uuid4()
    sealed = secret_box.encrypt("whsec_abc", row, "secret", key)
    assert secret_box.decrypt(sealed, row, "secret", key) == "whsec_abc"
    for other_row, column, other_key in (
        (uuid.uuid4(), "secret", key),  # copied to another subscription
        (row, "previous_secret", key),  # moved to the other column
        (row, "secret", bytes(32)),  # another key file
    ):
        with pytest.raises(secret_box.SecretUnreadable):
            secret_box.decrypt(sealed, other_row, column, other_key)
    with pytest.raises(secret_box.SecretUnreadable):
        secret_box.decrypt("whsec_abc", row, "secret", key)


def test_migration_encrypts_clear_rows_and_downgrade_restores_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/secrets.db"
    config = _alembic(url)
    command.upgrade(config, "13a1c0de2f01")  # before encryption: secrets in clear
    engine = make_engine(url)
    org, sub_id = uuid.uuid4(), uuid.uuid4()
    clear, previous = "whsec_" + "Q" * 43 + "=", "whsec_" + "R" * 43 + "="
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO organisations (id, name, kind, active, created_at)"
                    " VALUES (:id, 'Synthetic Org', 'housing', 1, '2026-01-01')"
                ),
                {"id": org.hex},
            )
            conn.execute(
                text(
                    "INSERT INTO webhook_subscriptions (id, organisation_id, url, event_types,"
                    " secret, previous_secret, active, created_by, created_at, updated_at)"
                    " VALUES (:id, :org, 'https://hooks.example.org/x', '[]', :s, :p, 1,"
                    " 'user:synthetic', '2026-01-01', '2026-01-01')"
                ),
                {"id": sub_id.hex, "org": org.hex, "s": clear, "p": previous},
            )
        command.upgrade(config, "head")
        with engine.connect() as conn:
            secret, prev = conn.execute(
                text("SELECT secret, previous_secret FROM webhook_subscriptions")
            ).one()
        assert clear not in secret and previous not in prev
        assert secret_box.decrypt(secret, sub_id, "secret") == clear
        assert secret_box.decrypt(prev, sub_id, "previous_secret") == previous
        command.downgrade(config, "13a1c0de2f01")
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT secret, previous_secret FROM webhook_subscriptions")
            ).one()
        assert tuple(row) == (clear, previous)
    finally:
        engine.dispose()


def test_a_secret_that_does_not_decrypt_sends_and_discloses_nothing(
    hw: HookWorld, receiver: Receiver
) -> None:
    from app.models.audit import AccessEvent
    from app.models.events import WebhookDelivery

    sub = hw.subscribe(receiver.url)
    row = hw.db.get(WebhookSubscription, uuid.UUID(sub["id"]))
    assert row is not None
    row.secret = secret_box.encrypt(sub["secret"], row.id, "secret", bytes(32))  # other key
    hw.db.add(row)
    hw.db.commit()
    hw.book()
    assert run_once(hw.sessions) == 0
    assert receiver.received == []
    hw.db.expire_all()
    [delivery] = hw.db.exec(select(WebhookDelivery)).all()
    assert delivery.status == "pending" and delivery.last_error == "secret_unreadable"
    sent = select(AccessEvent).where(AccessEvent.action == "webhook_delivery")
    assert hw.db.exec(sent).all() == []


def _use_keys(monkeypatch: pytest.MonkeyPatch, current: Path, *previous: Path) -> None:
    from app.core.settings import get_settings

    monkeypatch.setenv("THROUGHCARE_WEBHOOK_SECRET_KEY_PATH", str(current))
    monkeypatch.setenv(
        "THROUGHCARE_WEBHOOK_SECRET_PREVIOUS_KEY_PATHS", json.dumps([str(p) for p in previous])
    )
    get_settings.cache_clear()


def test_the_key_file_can_be_replaced_and_every_secret_moved_to_it(
    hw: HookWorld, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.settings import get_settings
    from app.models.idempotency import IdempotencyRecord
    from app.services.webhooks import reencrypt_all

    old_key = secret_box.load_or_create_key(get_settings().webhook_secret_key_path)
    made = hw.client.post(
        HOOKS,
        json={"url": receiver.url, "event_types": ["appointment.booked"]},
        headers={**hw.housing_admin, "Idempotency-Key": "key-rotation-1"},
    )
    assert made.status_code == 201, made.text
    sub = made.json()
    rotated = hw.client.post(
        f"{HOOKS}/{sub['id']}/rotate-secret", json={"grace_hours": 1}, headers=hw.housing_admin
    ).json()
    new_path = tmp_path / "webhook-secret-key.new"
    new_key = secret_box.load_or_create_key(new_path)
    old_path = tmp_path / "webhook-secret-key.old"
    old_path.write_bytes(old_key)
    try:
        # A new key with the old one listed: everything stored still reads.
        _use_keys(monkeypatch, new_path, old_path)
        hw.book()
        run_once(hw.sessions)
        [got] = receiver.received
        Webhook(rotated["secret"]).verify(got.body, got.headers)
        done = reencrypt_all(hw.db)
        hw.db.commit()
        # the current secret, the previous one and the replay's copy
        assert (done.rewritten, done.current, done.unreadable) == (3, 0, [])
        hw.db.expire_all()
        row = hw.db.get(WebhookSubscription, uuid.UUID(sub["id"]))
        assert row is not None and row.previous_secret is not None
        assert secret_box.decrypt(row.secret, row.id, "secret", new_key) == rotated["secret"]
        assert (
            secret_box.decrypt(row.previous_secret, row.id, "previous_secret", new_key)
            == (sub["secret"])
        )
        [replay] = hw.db.exec(select(IdempotencyRecord)).all()
        assert replay.response is not None
        with pytest.raises(secret_box.SecretUnreadable):
            secret_box.decrypt(replay.response["secret"], row.id, "idempotent_replay", old_key)
        # The old key retired: deliveries still sign; a second run has nothing to do.
        _use_keys(monkeypatch, new_path)
        hw.book(days=4)
        run_once(hw.sessions)
        assert len(receiver.received) == 2
        Webhook(rotated["secret"]).verify(receiver.received[1].body, receiver.received[1].headers)
        again = reencrypt_all(hw.db)
        assert (again.rewritten, again.current, again.unreadable) == (0, 3, [])
        # A value no configured key opens is reported and left as it was.
        stray = secret_box.encrypt(rotated["secret"], row.id, "secret", bytes(32))
        row.secret = stray
        hw.db.add(row)
        hw.db.commit()
        lost = reencrypt_all(hw.db)
        assert lost.unreadable == [f"subscription {row.id} secret"]
        hw.db.expire_all()
        assert hw.db.get(WebhookSubscription, row.id).secret == stray  # type: ignore[union-attr]
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_reencrypt_command_reports_and_fails_on_unreadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from app.cli import cli
    from app.core.db import get_engine
    from app.core.settings import get_settings
    from app.models.organisation import Organisation, OrgKind

    def clear() -> None:
        get_engine().dispose()
        get_engine.cache_clear()
        get_settings.cache_clear()

    clear()
    monkeypatch.setenv("THROUGHCARE_DATABASE_URL", f"sqlite:///{tmp_path}/keys.db")
    old_path, new_path = tmp_path / "old", tmp_path / "new"
    old_key = secret_box.load_or_create_key(old_path)
    try:
        assert CliRunner().invoke(cli, ["migrate"]).exit_code == 0
        from sqlmodel import Session

        with Session(get_engine()) as s:
            org = Organisation(name=f"Org {uuid.uuid4().hex[:6]}", kind=OrgKind.housing)
            s.add(org)
            s.flush()
            subs = []
            for key in (old_key, bytes(32)):
                sub = WebhookSubscription(
                    organisation_id=org.id,
                    url="https://partner.example.org/hook",
                    event_types=["appointment.booked"],
                    secret="",
                    created_by="test",
                )
                sub.secret = secret_box.encrypt("whsec_c2VjcmV0", sub.id, "secret", key)
                s.add(sub)
                subs.append(sub.id)
            s.commit()
        _use_keys(monkeypatch, new_path, old_path)
        result = CliRunner().invoke(cli, ["webhooks", "reencrypt", "--json"])
        assert result.exit_code == 1, result.output
        report = json.loads(result.stdout)
        assert report == {
            "rewritten": 1,
            "already_current": 0,
            "unreadable": [f"subscription {subs[1]} secret"],
        }
        new_key = new_path.read_bytes()
        with Session(get_engine()) as s:
            moved = s.get(WebhookSubscription, subs[0])
            assert moved is not None
            assert secret_box.decrypt(moved.secret, moved.id, "secret", new_key) == (
                "whsec_c2VjcmV0"
            )
    finally:
        monkeypatch.undo()
        clear()
