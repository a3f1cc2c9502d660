"""Issue and verify access tokens (python-jose, ES256 with kid; optional external OIDC)."""

import threading
import time
import uuid
from collections import OrderedDict
from typing import Any

import httpx
from jose import jwt
from jose.exceptions import JOSEError

from app.auth.keys import signing_key
from app.core.settings import get_settings

USER_TOKEN = "user"
CLIENT_TOKEN = "client"
PARTNER_ROLE = "partner_system"

_REQUIRED = {
    "require_aud": True,
    "require_exp": True,
    "require_iat": True,
    "require_iss": True,
    "require_sub": True,
    "verify_aud": True,
    "verify_exp": True,
    "verify_iat": True,
    "verify_iss": True,
    "verify_sub": True,
    "verify_signature": True,
}


class InvalidToken(Exception):
    """The token cannot be trusted; the reason is logged, never returned."""


# python-jose raises JOSEError for most failures, but a signed claim of an unexpected
# type reaches plain Python: `"iat": null` is a TypeError, `"iat": 1e400` an
# OverflowError, an `aud` list holding a number a TypeError. Each is an invalid token.
_DECODE_ERRORS = (JOSEError, TypeError, ValueError, OverflowError, KeyError, AttributeError)


def issue_token(
    *,
    subject: str,
    token_type: str,
    org_id: uuid.UUID,
    org_kind: str,
    role: str,
    scopes: set[str] | frozenset[str],
    extra: dict[str, Any] | None = None,
    lifetime: int | None = None,
) -> tuple[str, int]:
    """A signed access token and its lifetime in seconds."""
    settings = get_settings()
    key = signing_key()
    now = int(time.time())
    ttl = lifetime or settings.token_lifetime_seconds
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": subject,
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        "typ": token_type,
        "org": str(org_id),
        "org_kind": org_kind,
        "role": role,
        "scope": " ".join(sorted(scopes)),
        **(extra or {}),
    }
    token = jwt.encode(claims, key.private_pem, algorithm="ES256", headers={"kid": key.kid})
    return token, ttl


class _VerifiedCache:
    """Tokens whose signature and claims were verified, kept until they expire.

    The cache key is the whole token string, so a cached entry can only ever be the
    same bytes that passed verification; expiry is checked again on every hit.
    """

    def __init__(self, size: int = 20_000) -> None:
        self._size = size
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            return self._items.get(token)

    def put(self, token: str, claims: dict[str, Any]) -> None:
        with self._lock:
            self._items[token] = claims
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


verified_cache = _VerifiedCache()


def _whole_seconds(claims: dict[str, Any], name: str) -> int:
    value = claims.get(name)
    # bool is an int in Python; `true` is no time.
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidToken(f"{name} is not a whole number of seconds")
    return value


def _check_not_expired(claims: dict[str, Any]) -> None:
    leeway = get_settings().token_leeway_seconds
    if _whole_seconds(claims, "exp") + leeway < time.time():
        raise InvalidToken("expired")


def _check_issued_in_past(claims: dict[str, Any]) -> None:
    # python-jose only checks that `iat` is a number; a token "issued" later than now
    # (beyond the clock leeway) was not issued by a sane clock.
    leeway = get_settings().token_leeway_seconds
    if _whole_seconds(claims, "iat") > time.time() + leeway:
        raise InvalidToken("issued in the future")


def _validate_local_claims(claims: dict[str, Any]) -> None:
    from app.models.organisation import Role

    token_type = claims.get("typ")
    for name in ("jti", "org", "org_kind", "role", "scope"):
        if not isinstance(claims.get(name), str):
            raise InvalidToken(f"missing claim {name}")
    if token_type == USER_TOKEN:
        if not str(claims["sub"]).startswith("user:") or claims["role"] not in set(Role):
            raise InvalidToken("malformed user token")
        if claims["role"] == Role.participant and not isinstance(claims.get("ptp"), str):
            raise InvalidToken("participant token without participant")
    elif token_type == CLIENT_TOKEN:
        if not str(claims["sub"]).startswith("client:") or claims["role"] != PARTNER_ROLE:
            raise InvalidToken("malformed client token")
    else:
        raise InvalidToken("unknown token type")


def verify_token(token: str) -> dict[str, Any]:
    """The claims of a token issued here or by the configured OIDC provider."""
    cached = verified_cache.get(token)
    if cached is not None:
        _check_not_expired(cached)
        return cached
    try:
        header = jwt.get_unverified_header(token)
    except _DECODE_ERRORS as exc:
        raise InvalidToken("unreadable header") from exc
    if "crit" in header:
        # RFC 7515 §4.1.11: a critical extension the recipient does not understand makes
        # the token invalid; we understand none.
        raise InvalidToken("critical header extension")
    settings = get_settings()
    key = signing_key()
    kid = header.get("kid")
    if kid == key.kid:
        if header.get("alg") != "ES256":
            raise InvalidToken("algorithm does not match the key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.public_jwk,
                algorithms=["ES256"],
                audience=settings.audience,
                issuer=settings.issuer,
                options={**_REQUIRED, "leeway": settings.token_leeway_seconds},
            )
        except _DECODE_ERRORS as exc:
            raise InvalidToken("verification failed") from exc
        _validate_local_claims(claims)
    elif settings.oidc_issuer and settings.oidc_jwks_url:
        claims = _verify_external(token, header)
    else:
        raise InvalidToken("unknown key id")
    _check_not_expired(claims)
    _check_issued_in_past(claims)
    verified_cache.put(token, claims)
    return claims


class _JwksCache:
    """The external provider's JWKS, fetched from configuration only, with a timeout."""

    def __init__(self) -> None:
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched = 0.0
        self._lock = threading.Lock()

    def key(self, kid: str) -> dict[str, Any] | None:
        settings = get_settings()
        with self._lock:
            stale = time.monotonic() - self._fetched > settings.oidc_jwks_cache_seconds
            # Unknown kids refetch at most every 10 s (no refetch storm from bad tokens).
            if stale or (kid not in self._keys and time.monotonic() - self._fetched > 10):
                self._refresh(str(settings.oidc_jwks_url), settings.oidc_jwks_timeout_seconds)
            return self._keys.get(kid)

    def _refresh(self, url: str, timeout: float) -> None:
        try:
            response = httpx.get(url, timeout=timeout, follow_redirects=False)
            response.raise_for_status()
            keys = response.json().get("keys", [])
        except (httpx.HTTPError, ValueError, AttributeError):
            return
        self._keys = {k["kid"]: k for k in keys if isinstance(k, dict) and "kid" in k}
        self._fetched = time.monotonic()

    def clear(self) -> None:
        with self._lock:
            self._keys, self._fetched = {}, 0.0


external_jwks = _JwksCache()

_ALG_FOR_KEY: dict[tuple[object, object], str] = {
    ("RSA", None): "RS256",
    ("EC", "P-256"): "ES256",
}


def _verify_external(token: str, header: dict[str, Any]) -> dict[str, Any]:
    settings = get_settings()
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise InvalidToken("no kid")
    # Keys come from the configured JWKS only; a token that names another key source is
    # not what the provider issues, so it is refused rather than silently re-pointed.
    if header.get("jku", settings.oidc_jwks_url) != settings.oidc_jwks_url or "x5u" in header:
        raise InvalidToken("token names a key source other than the configured JWKS")
    jwk = external_jwks.key(kid)
    if jwk is None:
        raise InvalidToken("unknown external key id")
    alg = _ALG_FOR_KEY.get((jwk.get("kty"), jwk.get("crv")))
    if alg is None or header.get("alg") != alg:
        raise InvalidToken("algorithm does not match the external key")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            jwk,
            algorithms=[alg],
            audience=settings.oidc_audience or settings.audience,
            issuer=settings.oidc_issuer,
            options={**_REQUIRED, "leeway": settings.token_leeway_seconds},
        )
    except _DECODE_ERRORS as exc:
        raise InvalidToken("external verification failed") from exc
    if not isinstance(claims.get("org"), str):
        raise InvalidToken("external token names no organisation")
    claims["typ"] = "external"
    claims.setdefault("jti", "")
    return claims
