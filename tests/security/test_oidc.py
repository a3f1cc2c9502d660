"""Tokens from an external OpenID Connect issuer, verified against its configured JWKS only."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from jose import jwk, jwt

import app.auth.tokens
from app.auth.tokens import external_jwks, verified_cache
from app.core.settings import get_settings
from app.models.organisation import Organisation, OrgKind
from tests.fixtures import World

ISSUER = "https://idp.synthetic-nhs.test/realms/throughcare"
JWKS_URL = "https://idp.synthetic-nhs.test/realms/throughcare/certs"
EVIL_JWKS_URL = "https://evil.example/jwks.json"


def _rsa_key() -> tuple[str, dict[str, Any]]:
    """A private PEM and the matching public JWK."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public = jwk.construct(public_pem, "RS256").to_dict()
    return pem, {**public, "kid": f"kid-{uuid.uuid4().hex[:8]}", "use": "sig"}


@dataclass
class Issuer:
    """The fake provider: its signing key, its JWKS, and every URL the app fetched."""

    pem: str
    public: dict[str, Any]
    attacker_pem: str
    attacker_public: dict[str, Any]
    fetched: list[str] = field(default_factory=list)

    def sign(self, claims: dict[str, Any], pem: str | None = None, **headers: Any) -> str:
        headers.setdefault("kid", self.public["kid"])
        algorithm = headers.pop("alg", "RS256")
        return jwt.encode(claims, pem or self.pem, algorithm=algorithm, headers=headers)


def _clear() -> None:
    get_settings.cache_clear()
    external_jwks.clear()
    verified_cache.clear()


@pytest.fixture
def issuer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Issuer]:
    pem, public = _rsa_key()
    attacker_pem, attacker_public = _rsa_key()
    provider = Issuer(pem, public, attacker_pem, attacker_public)

    def fake_get(url: str, **kwargs: Any) -> httpx.Response:
        provider.fetched.append(url)
        keys = [public] if url == JWKS_URL else [attacker_public]
        return httpx.Response(200, json={"keys": keys}, request=httpx.Request("GET", url))

    monkeypatch.setattr(app.auth.tokens.httpx, "get", fake_get)
    monkeypatch.setenv("THROUGHCARE_OIDC_ISSUER", ISSUER)
    monkeypatch.setenv("THROUGHCARE_OIDC_JWKS_URL", JWKS_URL)
    _clear()
    yield provider
    monkeypatch.delenv("THROUGHCARE_OIDC_ISSUER")
    monkeypatch.delenv("THROUGHCARE_OIDC_JWKS_URL")
    _clear()


def _claims(organisation: Organisation, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": get_settings().audience,
        "sub": f"idp-user-{uuid.uuid4().hex[:8]}",
        "iat": now,
        "exp": now + 300,
        "org": str(organisation.id),
        "role": "practitioner",
        "scope": "participants:read admin",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _me(client: TestClient, token: str) -> httpx.Response:
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def _assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_external_token_for_a_known_org_is_accepted(
    client: TestClient, world: World, issuer: Issuer
) -> None:
    org = world.org("Community MH", OrgKind.community_mental_health)
    claims = _claims(org)
    response = _me(client, issuer.sign(claims))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["subject"] == claims["sub"]
    assert body["organisation_id"] == str(org.id)
    assert body["organisation_kind"] == "community_mental_health"  # from our record
    assert body["role"] == "practitioner"
    assert body["scopes"] == ["participants:read"]  # capped by the role: no admin
    assert issuer.fetched == [JWKS_URL]


def test_unknown_org_is_401(client: TestClient, issuer: Issuer) -> None:
    ghost = Organisation(id=uuid.uuid4(), name="Not registered", kind=OrgKind.housing)
    _assert_401(_me(client, issuer.sign(_claims(ghost))))


def test_inactive_org_is_401(client: TestClient, world: World, issuer: Issuer) -> None:
    org = world.org("Closed", OrgKind.housing)
    org.active = False
    world.session.add(org)
    world.session.flush()
    _assert_401(_me(client, issuer.sign(_claims(org))))


@pytest.mark.parametrize(
    "override",
    [
        {"iss": "https://other-idp.test"},
        {"iss": get_settings().issuer},  # our own issuer name on a foreign key
        {"aud": "another-api"},
        {"exp": int(time.time()) - 600},
        {"org": None},
        {"role": "system_admin"},
        {"role": "participant"},
        {"role": None},
        {"org": "not-a-uuid"},
    ],
    ids=[
        "wrong-iss",
        "local-iss",
        "wrong-aud",
        "expired",
        "no-org",
        "sysadmin",
        "participant",
        "no-role",
        "bad-org",
    ],
)
def test_bad_claims_are_401(
    client: TestClient, world: World, issuer: Issuer, override: dict[str, Any]
) -> None:
    org = world.org("Probation", OrgKind.probation)
    _assert_401(_me(client, issuer.sign(_claims(org, **override))))


@pytest.mark.parametrize("alg", ["RS384", "RS512"])
def test_other_rsa_algorithm_is_401(
    client: TestClient, world: World, issuer: Issuer, alg: str
) -> None:
    org = world.org("Probation", OrgKind.probation)
    _assert_401(_me(client, issuer.sign(_claims(org), alg=alg)))


def test_ec_signature_under_the_rsa_kid_is_401(
    client: TestClient, world: World, issuer: Issuer
) -> None:
    org = world.org("Probation", OrgKind.probation)
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _assert_401(_me(client, issuer.sign(_claims(org), pem=ec_pem.decode(), alg="ES256")))


def test_hmac_with_the_public_key_is_401(client: TestClient, world: World, issuer: Issuer) -> None:
    """The key-confusion attack: HS256 keyed with the provider's published public key."""
    org = world.org("Probation", OrgKind.probation)
    secret = jwk.construct(issuer.public, "RS256").to_pem()

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "kid": issuer.public["kid"]}).encode())
    payload = b64(json.dumps(_claims(org)).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    _assert_401(_me(client, f"{header}.{payload}.{b64(signature)}"))


@pytest.mark.parametrize("header", ["jku", "x5u"])
def test_key_url_in_the_header_is_never_fetched(
    client: TestClient, world: World, issuer: Issuer, header: str
) -> None:
    org = world.org("Probation", OrgKind.probation)
    attacker_kid = issuer.attacker_public["kid"]
    for kid in (attacker_kid, issuer.public["kid"]):
        token = issuer.sign(
            _claims(org), pem=issuer.attacker_pem, kid=kid, **{header: EVIL_JWKS_URL}
        )
        _assert_401(_me(client, token))
    # Even a token signed by the real provider is refused when it points elsewhere.
    _assert_401(_me(client, issuer.sign(_claims(org), **{header: EVIL_JWKS_URL})))
    assert set(issuer.fetched) <= {JWKS_URL}


def test_embedded_jwk_header_is_ignored(client: TestClient, world: World, issuer: Issuer) -> None:
    org = world.org("Probation", OrgKind.probation)
    token = issuer.sign(
        _claims(org), pem=issuer.attacker_pem, kid="embedded", jwk=issuer.attacker_public
    )
    _assert_401(_me(client, token))


def test_without_oidc_configuration_external_tokens_are_401(
    client: TestClient, world: World
) -> None:
    pem, public = _rsa_key()
    org = world.org("Probation", OrgKind.probation)
    token = jwt.encode(_claims(org), pem, algorithm="RS256", headers={"kid": public["kid"]})
    verified_cache.clear()
    _assert_401(_me(client, token))
