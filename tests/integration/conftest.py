"""Webhook settings for the integration tests: plain http to loopback, compressed retries."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.core.settings import get_settings
from tests.fixtures import World
from tests.integration.world import HookWorld, Receiver, make_hook_world, start_receiver


@pytest.fixture(autouse=True)
def _webhook_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("THROUGHCARE_WEBHOOK_ALLOW_HTTP", "true")
    monkeypatch.setenv("THROUGHCARE_WEBHOOK_ALLOWED_NETWORKS", '["127.0.0.1/32"]')
    monkeypatch.setenv("THROUGHCARE_WEBHOOK_RETRY_SCHEDULE", "[0, 0]")
    monkeypatch.setenv("THROUGHCARE_WEBHOOK_TIMEOUT_SECONDS", "3")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def hw(world: World, db: Session, client: TestClient) -> HookWorld:
    return make_hook_world(world, db, client)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = start_receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()
