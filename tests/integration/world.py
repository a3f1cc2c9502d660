"""A synthetic world for integration tests: a coordinator shares appointments with a
housing provider under consent; housing subscribes to webhooks at a loopback receiver."""

import json
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.core.db import committing
from app.models.organisation import Organisation, OrgKind, Role
from app.models.participant import CareRole, CareTeamMember, Participant
from app.models.sharing import Consent, LawfulBasis
from tests.api.referral_world import add_consent, add_participant, add_protocol
from tests.fixtures import World

P = "/api/v1/participants"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A real HTTP server on loopback answering with scripted statuses (200 when out)."""

    server: ThreadingHTTPServer
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/throughcare"


def start_receiver() -> Receiver:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            receiver.received.append(
                Received({k.lower(): v for k, v in self.headers.items()}, body)
            )
            code, headers = receiver.script.pop(0) if receiver.script else (200, {})
            self.send_response(code)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


@dataclass
class HookWorld:
    world: World
    db: Session
    client: TestClient
    coord: Organisation
    housing: Organisation
    participant: Participant
    consent: Consent
    coord_headers: dict[str, str]
    housing_admin: dict[str, str]

    def sessions(self) -> AbstractContextManager[Session]:
        """The worker's sessions: the test's rolled-back session, committed per step."""
        return committing(self.db)

    def subscribe(self, url: str, *types: str) -> dict[str, Any]:
        res = self.client.post(
            "/api/v1/webhooks",
            json={"url": url, "event_types": list(types) or ["appointment.booked"]},
            headers=self.housing_admin,
        )
        assert res.status_code == 201, res.text
        return dict(res.json())

    def book(self, days: int = 3) -> dict[str, Any]:
        start = datetime.now(UTC) + timedelta(days=days)
        res = self.client.post(
            f"{P}/{self.participant.id}/appointments",
            json={
                "kind": "one_to_one",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=1)).isoformat(),
            },
            headers=self.coord_headers,
        )
        assert res.status_code == 201, res.text
        return dict(res.json())

    def withdraw(self) -> None:
        res = self.client.post(
            f"{P}/{self.participant.id}/consents/{self.consent.id}/withdraw",
            json={"reason": "Changed their mind"},
            headers=self.coord_headers,
        )
        assert res.status_code == 200, res.text


def make_hook_world(world: World, db: Session, client: TestClient) -> HookWorld:
    coord = world.org("Coordination", OrgKind.care_coordination)
    housing = world.org("Housing", OrgKind.housing)
    participant = add_participant(db, coord)
    db.add(
        CareTeamMember(
            participant_id=participant.id,
            organisation_id=housing.id,
            role=CareRole.contributor,
            source_org_id=coord.id,
            added_by="test",
        )
    )
    add_protocol(
        db, OrgKind.care_coordination, OrgKind.housing, ["appointments"], LawfulBasis.consent
    )
    consent = add_consent(db, participant, ["appointments"], housing)
    hw = HookWorld(
        world,
        db,
        client,
        coord,
        housing,
        participant,
        consent,
        world.headers(coord),
        world.headers(housing, Role.org_admin),
    )
    db.commit()
    return hw


def payload(received: Received) -> dict[str, Any]:
    return dict(json.loads(received.body))
