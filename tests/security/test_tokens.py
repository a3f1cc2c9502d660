"""Token verification: every forged, stale or misdirected token is a 401, never a 500."""

import base64
import time
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from jose import jwt

from app.auth.keys import signing_key
from app.auth.tokens import verified_cache
from app.core.settings import get_settings
from app.models.organisation import OrgKind, Role
from tests.fixtures import World


def _claims(world: World, **overrides: Any) -> dict[str, Any]:
    org = world.org("Probation", OrgKind.probation)
    user = world.user(org, Role.practitioner)
    now = int(time.time())
    claims = {
        "iss": get_settings().issuer,
        "aud": get_settings().audience,
        "sub": f"user:{user.id}",
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "typ": "user",
        "org": str(org.id),
        "org_kind": org.kind,
        "role": "practitioner",
        "scope": "participants:read",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict[str, Any], **headers: Any) -> str:
    key = signing_key()
    return jwt.encode(
        claims, key.private_pem, algorithm="ES256", headers={"kid": key.kid, **headers}
    )


def _me(client: TestClient, token: str) -> Any:
    verified_cache.clear()
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def _assert_401(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_valid_token_is_accepted(client: TestClient, world: World) -> None:
    response = _me(client, _sign(_claims(world)))
    assert response.status_code == 200
    assert response.json()["role"] == "practitioner"


@pytest.mark.parametrize(
    "override",
    [
        {"exp": int(time.time()) - 120},
        {"aud": "someone-else"},
        {"iss": "https://evil.example"},
        {"aud": None},  # python-jose accepts a missing aud unless require_aud
        {"exp": None},  # python-jose accepts a missing exp by default
        {"iat": None},
        {"sub": None},
        {"typ": "robot"},
        {"role": "partner_system"},  # a user token claiming a client role
    ],
    ids=[
        "expired",
        "wrong-aud",
        "wrong-iss",
        "no-aud",
        "no-exp",
        "no-iat",
        "no-sub",
        "bad-typ",
        "user-with-client-role",
    ],
)
def test_bad_claims_are_rejected(client: TestClient, world: World, override: dict) -> None:
    _assert_401(_me(client, _sign(_claims(world, **override))))


def test_tampered_payload_is_rejected(client: TestClient, world: World) -> None:
    token = _sign(_claims(world))
    header, payload, signature = token.split(".")
    body = base64.urlsafe_b64decode(payload + "==").replace(b"practitioner", b"org_admin___")
    forged = base64.urlsafe_b64encode(body).rstrip(b"=").decode()
    _assert_401(_me(client, f"{header}.{forged}.{signature}"))


def test_alg_none_is_rejected(client: TestClient, world: World) -> None:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    import json

    header = b64(json.dumps({"alg": "none", "kid": signing_key().kid}).encode())
    payload = b64(json.dumps(_claims(world)).encode())
    _assert_401(_me(client, f"{header}.{payload}."))


def test_unknown_kid_is_rejected(client: TestClient, world: World) -> None:
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    token = jwt.encode(
        _claims(world), other.decode(), algorithm="ES256", headers={"kid": "unknown-kid"}
    )
    _assert_401(_me(client, token))


def test_own_kid_with_foreign_key_is_rejected(client: TestClient, world: World) -> None:
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    token = jwt.encode(
        _claims(world), other.decode(), algorithm="ES256", headers={"kid": signing_key().kid}
    )
    _assert_401(_me(client, token))


def test_hs256_signed_with_public_key_is_rejected(client: TestClient, world: World) -> None:
    """The key-confusion attack: HMAC keyed with the published public key."""
    public = serialization.load_pem_public_key(signing_key().public_pem.encode())
    for encoding, fmt in [
        (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        (serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
    ]:
        secret = public.public_bytes(encoding, fmt)
        import hashlib
        import hmac
        import json

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        header = b64(json.dumps({"alg": "HS256", "kid": signing_key().kid}).encode())
        payload = b64(json.dumps(_claims(world)).encode())
        sig = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        _assert_401(_me(client, f"{header}.{payload}.{b64(sig)}"))


@pytest.mark.parametrize("raw", ["", "not-a-jwt", "a.b.c", "Zm9v.YmFy.YmF6", "x" * 5000])
def test_garbage_tokens_are_401(client: TestClient, raw: str) -> None:
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 401


def test_missing_and_non_bearer_authorization(client: TestClient) -> None:
    assert client.get("/api/v1/me").status_code == 401
    response = client.get("/api/v1/me", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert response.status_code == 401


def test_cached_token_still_expires(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _sign(_claims(world, exp=int(time.time()) + 60))
    verified_cache.clear()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 3600)
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_user_token_scopes_are_capped_by_role(client: TestClient, world: World) -> None:
    """A (validly signed) user token listing `admin` for a practitioner does not get it."""
    token = _sign(_claims(world, scope="participants:read admin"))
    body = _me(client, token).json()
    assert "admin" not in body["scopes"]


def test_jwks_publishes_the_verifying_key(client: TestClient) -> None:
    keys = client.get("/.well-known/jwks.json").json()["keys"]
    assert keys == [signing_key().public_jwk]
    assert keys[0]["alg"] == "ES256" and "d" not in keys[0]


@pytest.mark.parametrize(
    "override",
    [
        {"sub": "user:zzz"},
        {"sub": "user:"},
        {"sub": "client:"},
        {"org": "not-a-uuid"},
        {"org": 12},
        {"role": "participant", "ptp": "not-a-uuid"},
        {"role": "participant", "ptp": 7},
        {"role": "participant", "ptp": None},
        {"iat": "yesterday"},
        {"iat": [1]},
        {"exp": True},
        {"scope": ["admin"]},
        {"cv": "0"},
        {"cv": True},
        {"cv": -1},
        {"cv": 1},  # a version the account never had
        {"cv": 2**40},
    ],
    ids=[
        "sub-not-uuid",
        "sub-empty-user",
        "sub-empty-client",
        "org-not-uuid",
        "org-number",
        "ptp-not-uuid",
        "ptp-number",
        "ptp-missing",
        "iat-text",
        "iat-list",
        "exp-bool",
        "scope-list",
        "cv-text",
        "cv-bool",
        "cv-negative",
        "cv-not-current",
        "cv-huge",
    ],
)
def test_malformed_signed_claims_are_401(
    client: TestClient, world: World, override: dict[str, Any]
) -> None:
    """Signed with the server's own key, but not shaped as the server issues them."""
    claims = _claims(world, **override)
    if "sub" in override and override["sub"].startswith("client:"):
        claims.update(typ="client", role="partner_system")
    _assert_401(_me(client, _sign(claims)))


def test_iat_in_the_future_beyond_the_leeway_is_401(client: TestClient, world: World) -> None:
    leeway = get_settings().token_leeway_seconds
    now = int(time.time())
    _assert_401(_me(client, _sign(_claims(world, iat=now + leeway + 60))))
    # Within the leeway a slightly fast clock elsewhere is tolerated.
    assert _me(client, _sign(_claims(world, iat=now + leeway // 2))).status_code == 200


@pytest.mark.parametrize("crit", [["exp"], ["b64"], ["urn:example:unknown"], [], "exp"])
def test_any_critical_header_is_401(client: TestClient, world: World, crit: Any) -> None:
    """RFC 7515 §4.1.11: we understand no critical extension, so none may be present."""
    claims = _claims(world)
    assert _me(client, _sign(claims)).status_code == 200
    _assert_401(_me(client, _sign(claims, crit=crit)))
