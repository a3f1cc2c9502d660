"""A Python client generated from the app's OpenAPI document runs a partner's referral
workflow against a live server, with no workarounds (issue 12).

The client is regenerated on every run (openapi-python-client, from `app.openapi()`, not
the committed file) into a temporary directory; generation must print no warning. The
server is a real uvicorn process on loopback with the demo world, as in tests/durability.
"""

import importlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from app.openapi_export import openapi_document
from tests.durability.harness import Server, cli, own_database

PACKAGE = "throughcare_generated_client"
PARTNER = "demo-prison-health-record"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModuleType, str]]:
    """The generated client package, imported, and what the generator printed."""
    tmp = tmp_path_factory.mktemp("client")
    schema = tmp / "openapi.json"
    schema.write_text(json.dumps(openapi_document()))
    bin_dir = str(Path(sys.executable).parent)  # the generator formats its output with ruff
    done = subprocess.run(
        [
            f"{bin_dir}/openapi-python-client",
            "generate",
            "--path",
            str(schema),
            "--meta",
            "none",
            "--output-path",
            str(tmp / PACKAGE),
        ],
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    sys.path.insert(0, str(tmp))
    try:
        yield importlib.import_module(PACKAGE), output
    finally:
        sys.path.remove(str(tmp))
        for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any]]]:
    """A live server on loopback with the demo world, and the demo credentials."""
    tmp = tmp_path_factory.mktemp("client-server")
    with own_database(tmp, "client") as url:
        live = Server(url, tmp, embedded_worker="false", audit_checkpoint_dir=str(tmp / "cp"))
        cli(live.env, "migrate")
        credentials = json.loads(cli(live.env, "seed-demo", "--json").stdout)
        live.start()
        try:
            yield live, credentials
        finally:
            live.stop()


def _sub(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


def test_the_client_generates_without_warnings(generated: tuple[ModuleType, str]) -> None:
    _, output = generated
    assert "warning" not in output.lower(), output
    assert "not in PATH" not in output, output


def test_partner_referral_workflow(
    generated: tuple[ModuleType, str], server: tuple[Server, dict[str, Any]]
) -> None:
    package, _ = generated
    live, credentials = server
    models = _sub(package, "models")
    create_token = _sub(package, "api.auth.create_token")
    list_orgs = _sub(package, "api.organisations.list_organisation_directory")
    list_participants = _sub(package, "api.participants.list_participants")
    create_referral = _sub(package, "api.referrals.create_referral")
    act_on_referral = _sub(package, "api.referrals.act_on_referral")
    read_referral = _sub(package, "api.referrals.read_referral")
    [secret] = [c["client_secret"] for c in credentials["clients"] if c["client_id"] == PARTNER]

    # 1. A client-credentials token for the partner system.
    anonymous = package.Client(base_url=live.base)
    token = create_token.sync_detailed(
        client=anonymous,
        body=models.BodyCreateToken(
            grant_type="client_credentials", client_id=PARTNER, client_secret=secret
        ),
    )
    assert token.status_code == 200, token.content
    assert isinstance(token.parsed, models.TokenResponse)
    api = package.AuthenticatedClient(base_url=live.base, token=token.parsed.access_token)

    # 2. Find the organisation to refer to (the demo's prison-healthcare-to-coordination
    # protocol covers identity and mental health), and the person to refer.
    orgs = list_orgs.sync(client=api, kind=models.OrgKind.CARE_COORDINATION)
    [coordination] = [o for o in orgs.items if o.accepts_referrals]
    people = list_participants.sync(client=api)
    [alex] = [p for p in people.items if p.given_name == "Alex"]

    # 3. Submit a referral; a retry with the same Idempotency-Key gives the same referral.
    body = models.ReferralCreate(
        participant_id=alex.id,
        to_org_id=coordination.id,
        reason="Low mood since transfer; needs coordinated care on release (synthetic).",
        categories=[models.Category.IDENTITY, models.Category.MENTAL_HEALTH],
        urgency=models.Urgency.SOON,
    )
    key = str(uuid.uuid4())
    first = create_referral.sync_detailed(client=api, body=body, idempotency_key=key)
    assert first.status_code == 201, first.content
    again = create_referral.sync_detailed(client=api, body=body, idempotency_key=key)
    assert again.status_code == 201 and again.parsed.id == first.parsed.id
    without_key = create_referral.sync_detailed(client=api, body=body)
    assert without_key.status_code == 428
    assert isinstance(without_key.parsed, models.Problem)

    # 4. Submit the draft with no body at all (the body of an action is optional).
    submitted = act_on_referral.sync_detailed(
        client=api, referral_id=first.parsed.id, action=models.ReferralAction.SUBMIT
    )
    assert submitted.status_code == 200, submitted.content
    assert submitted.parsed.status == models.ReferralStatus.SUBMITTED

    # 5. Read it back; the ETag is there for a later If-Match.
    read = read_referral.sync_detailed(client=api, referral_id=first.parsed.id)
    assert read.status_code == 200
    assert read.parsed.status == models.ReferralStatus.SUBMITTED
    assert read.parsed.to_org_id == coordination.id
    assert read.headers["ETag"]
