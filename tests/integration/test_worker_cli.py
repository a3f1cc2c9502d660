"""`throughcare worker --once` against its own fresh SQLite database delivers what is due."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session
from standardwebhooks import Webhook
from typer.testing import CliRunner

from app.cli import cli
from app.core.db import get_engine
from app.core.settings import get_settings
from app.models.events import DomainEvent, WebhookSubscription
from app.models.organisation import Organisation, OrgKind
from app.services import secret_box
from app.services.webhooks import new_secret
from tests.integration.world import Receiver


def _clear() -> None:
    get_engine().dispose()
    get_engine.cache_clear()
    get_settings.cache_clear()


@pytest.fixture
def fresh_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    _clear()
    monkeypatch.setenv("THROUGHCARE_DATABASE_URL", f"sqlite:///{tmp_path}/worker.db")
    assert CliRunner().invoke(cli, ["migrate"]).exit_code == 0
    yield
    _clear()


@pytest.mark.usefixtures("fresh_db")
def test_worker_once_delivers(receiver: Receiver) -> None:
    secret = new_secret()
    with Session(get_engine()) as s:
        org = Organisation(name=f"Org {uuid.uuid4().hex[:6]}", kind=OrgKind.probation)
        s.add(org)
        s.flush()
        sub = WebhookSubscription(
            organisation_id=org.id,
            url=receiver.url,
            event_types=["movement.received"],
            secret="",
            created_by="test",
        )
        sub.secret = secret_box.encrypt(secret, sub.id, "secret")
        s.add(sub)
        s.add(DomainEvent(type="movement.received", source_org_id=org.id, data={"n": "1"}))
        s.commit()
    result = CliRunner().invoke(cli, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "sent 1"
    [got] = receiver.received
    assert Webhook(secret).verify(got.body, got.headers)["type"] == "movement.received"
