"""Any JSON in any claim of a token signed with the server's real key: 200 or 401, never
a 500 (hypothesis)."""

import time
import uuid
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jose import jwt

from app.auth.keys import signing_key
from app.auth.tokens import verified_cache
from app.core.settings import get_settings
from app.models.organisation import OrgKind, Role
from tests.fixtures import World

CLAIMS = ("sub", "iat", "exp", "nbf", "jti", "typ", "org", "org_kind", "role", "scope", "ptp")
CLAIMS += ("aud", "iss")

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.uuids().map(str)
    | st.sampled_from(["user", "client", "external", *Role, *OrgKind, "partner_system"])
    | st.builds(lambda p, s: p + s, st.sampled_from(["user:", "client:"]), st.text(max_size=40))
    | st.uuids().map(lambda u: f"user:{u}")
    | st.integers(min_value=-400, max_value=400).map(lambda d: int(time.time()) + d)
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
_headers = st.dictionaries(
    st.sampled_from(["crit", "typ", "cty", "b64", "jku", "x5u", "zip", "kid"]), _json, max_size=2
)


def _base(world: World) -> dict[str, Any]:
    org = world.org("Fuzz", OrgKind.probation)
    user = world.user(org, Role.practitioner)
    now = int(time.time())
    return {
        "iss": get_settings().issuer,
        "aud": get_settings().audience,
        "sub": f"user:{user.id}",
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "typ": "user",
        "org": str(org.id),
        "org_kind": org.kind.value,
        "role": "practitioner",
        "scope": "participants:read",
    }


_FUZZ = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _call(client: TestClient, token: str) -> None:
    verified_cache.clear()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (200, 401), (response.status_code, response.text)
    if response.status_code == 401:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_random_claim_values_are_200_or_401(client: TestClient, world: World) -> None:
    base = _base(world)
    key = signing_key()

    @_FUZZ
    @given(
        changes=st.dictionaries(st.sampled_from(CLAIMS), _json, min_size=1, max_size=4),
        dropped=st.sets(st.sampled_from(CLAIMS), max_size=2),
    )
    def check(changes: dict[str, Any], dropped: set[str]) -> None:
        claims = {k: v for k, v in {**base, **changes}.items() if k not in dropped}
        token = jwt.encode(claims, key.private_pem, algorithm="ES256", headers={"kid": key.kid})
        _call(client, token)

    check()


def test_random_headers_are_200_or_401(client: TestClient, world: World) -> None:
    base = _base(world)
    key = signing_key()

    @_FUZZ
    @given(headers=_headers)
    def check(headers: dict[str, Any]) -> None:
        headers = {"kid": key.kid, **headers}
        try:
            token = jwt.encode(base, key.private_pem, algorithm="ES256", headers=headers)
        except (TypeError, ValueError):
            return  # python-jose cannot even write this header
        _call(client, token)

    check()
