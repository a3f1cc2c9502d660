"""Token endpoint, JWKS and `me`."""

import base64
import binascii
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Header, Security
from pydantic import BaseModel

from app.auth.caller import Caller, get_caller
from app.auth.issue import InvalidScope, TokenResponse, token_for_client, token_for_user
from app.auth.keys import jwks
from app.auth.throttle import throttle
from app.core.db import DbSession
from app.core.errors import AppError, TooManyRequests, Unauthorized, error_responses
from app.core.settings import get_settings
from app.models.organisation import OrgKind, Role
from app.services.accounts import authenticate_client, authenticate_user

router = APIRouter(prefix="/api/v1", tags=["auth"])
well_known = APIRouter(tags=["auth"])


class InvalidGrant(AppError):
    status, title, slug = 400, "Invalid grant", "invalid-grant"


class InvalidClient(AppError):
    status, title, slug = 401, "Invalid client", "invalid-client"


def _invalid_client(detail: str, basic: bool) -> InvalidClient:
    # RFC 6749 §5.2: a client that authenticated with HTTP Basic is answered with the
    # scheme it used.
    headers = {"WWW-Authenticate": 'Basic realm="throughcare"'} if basic else None
    return InvalidClient(detail, headers=headers, extensions={"error": "invalid_client"})


def _malformed(identifier: str) -> bool:
    """No username or client id holds a control character (and PostgreSQL text cannot
    hold NUL): such a value is a malformed request, answered before any lookup."""
    return not identifier.isprintable()


class Me(BaseModel):
    subject: str
    token_type: str
    organisation_id: uuid.UUID
    organisation_kind: OrgKind
    # A partner system's token carries the role `partner_system` (app/auth/issue.py).
    role: Role | Literal["partner_system"]
    scopes: list[str]
    participant_id: uuid.UUID | None


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


def _check_throttle(key: str) -> None:
    settings = get_settings()
    wait = throttle.retry_after(key, settings.login_max_failures, settings.login_lockout_seconds)
    if wait:
        raise TooManyRequests(
            "Too many failed attempts; try again later.", headers={"Retry-After": str(wait)}
        )


@well_known.get("/.well-known/jwks.json", summary="Public signing keys (JWKS)")
def get_jwks() -> dict[str, Any]:
    """The public keys that verify Throughcare access tokens."""
    return jwks()


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    responses=error_responses(InvalidGrant, InvalidClient, InvalidScope, TooManyRequests),
)
def create_token(
    session: DbSession,
    grant_type: Annotated[str, Form(pattern="^(client_credentials|password)$")],
    client_id: Annotated[str | None, Form(max_length=200)] = None,
    client_secret: Annotated[str | None, Form(max_length=500)] = None,
    username: Annotated[str | None, Form(max_length=200)] = None,
    password: Annotated[str | None, Form(max_length=500)] = None,
    scope: Annotated[str | None, Form(max_length=1000)] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> TokenResponse:
    """Issue an access token (OAuth 2 client credentials or password grant).

    A plain `def`: argon2 verification is deliberately slow CPU work and runs in the
    thread pool so it never stalls the event loop (docs/decisions/0001).
    """
    if grant_type == "client_credentials":
        basic = _basic_credentials(authorization)
        if basic:
            client_id, client_secret = basic
        if not client_id or not client_secret:
            raise _invalid_client("client_id and client_secret are required.", bool(basic))
        if _malformed(client_id):
            # No such client can exist: the same answer as an unknown one (RFC 6749 §5.2).
            raise _invalid_client("The client credentials are not valid.", bool(basic))
        key = f"client:{client_id}"
        _check_throttle(key)
        found = authenticate_client(session, client_id, client_secret)
        if found is None:
            throttle.failed(key)
            raise _invalid_client("The client credentials are not valid.", bool(basic))
        throttle.succeeded(key)
        return token_for_client(*found, requested=scope)
    if not username or not password:
        raise InvalidGrant(
            "username and password are required.", extensions={"error": "invalid_request"}
        )
    if _malformed(username):
        raise InvalidGrant("The username is malformed.", extensions={"error": "invalid_request"})
    key = f"user:{username.lower()}"
    _check_throttle(key)
    user_found = authenticate_user(session, username, password)
    if user_found is None:
        throttle.failed(key)
        raise InvalidGrant(
            "The username or password is not valid.", extensions={"error": "invalid_grant"}
        )
    throttle.succeeded(key)
    return token_for_user(*user_found, requested=scope)


@router.get("/me", response_model=Me, responses=error_responses(Unauthorized))
def read_me(caller: Annotated[Caller, Security(get_caller)]) -> Me:
    """Who the token is: organisation, role and scopes."""
    return Me(
        subject=caller.subject,
        token_type=caller.token_type,
        organisation_id=caller.org_id,
        organisation_kind=caller.org_kind,
        role=caller.role,
        scopes=sorted(caller.scopes),
        participant_id=caller.participant_id,
    )
