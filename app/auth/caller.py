"""Who is calling: the Caller built from a verified token, and the scope guard."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlowPassword, OAuthFlows
from fastapi.security import OAuth2, SecurityScopes
from sqlmodel import Session

from app.auth.active import Subject, active_cache, subject_is_active
from app.auth.scopes import ALL_SCOPES, ROLE_SCOPES, Scope, parse_scope
from app.auth.tokens import CLIENT_TOKEN, USER_TOKEN, InvalidToken, verify_token
from app.core.db import DbSession
from app.core.errors import Forbidden, Unauthorized, Unprocessable
from app.models.organisation import OrgKind, Role
from app.sharing.categories import Purpose

TOKEN_URL = "/api/v1/auth/token"
_SCOPE_DOCS = {s.value: s.name.replace("_", " ") for s in Scope}

oauth2 = OAuth2(
    flows=OAuthFlows(
        clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_URL, scopes=_SCOPE_DOCS),
        password=OAuthFlowPassword(tokenUrl=TOKEN_URL, scopes=_SCOPE_DOCS),
    ),
    scheme_name="oauth2",
    auto_error=False,
)


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of one request."""

    subject: str
    token_type: str
    org_id: uuid.UUID
    org_kind: OrgKind
    role: str
    scopes: frozenset[str]
    token_id: str
    purpose: Purpose = Purpose.direct_care
    request_id: str = ""
    user_id: uuid.UUID | None = None
    participant_id: uuid.UUID | None = None
    client_id: str | None = None
    # A user token's account credentials version (claim `cv`): a password change bumps the
    # account's, and tokens carrying an older one stop passing the active check.
    credentials_version: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_participant(self) -> bool:
        return self.role == Role.participant

    def has(self, scope: str) -> bool:
        return scope in self.scopes


def caller_from_claims(claims: dict[str, object], purpose: Purpose, request_id: str) -> Caller:
    """A Caller from verified claims; raises InvalidToken when they do not fit."""
    try:
        return _caller_from_claims(claims, purpose, request_id)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        # Signed by a trusted key but not shaped as we issue them (a `sub` that is no
        # UUID, a `ptp` that is a number): still just an invalid token, never a 500.
        raise InvalidToken("malformed claims") from exc


def _caller_from_claims(claims: dict[str, object], purpose: Purpose, request_id: str) -> Caller:
    token_type = str(claims["typ"])
    org_id = uuid.UUID(str(claims["org"]))
    # An external provider does not know our organisation kinds: the kind is taken
    # from our record (_bind_external_org); this placeholder never leaves get_caller.
    external = token_type not in {USER_TOKEN, CLIENT_TOKEN}
    org_kind = OrgKind.voluntary if external else OrgKind(str(claims["org_kind"]))
    if not isinstance(claims.get("role"), str):
        raise InvalidToken("no role")
    role = str(claims["role"])
    scopes = frozenset(parse_scope(str(claims.get("scope", "")))) & ALL_SCOPES
    subject = claims["sub"]
    if not isinstance(subject, str):
        raise InvalidToken("no subject")
    user_id = participant_id = None
    client_id = None
    version = 0
    if token_type == USER_TOKEN:
        # A user token never carries more than the role allows, whatever it says.
        scopes &= ROLE_SCOPES[Role(role)]
        user_id = _uuid(subject.removeprefix("user:"))
        version = _credentials_version(claims.get("cv", 0))
        if role == Role.participant:
            participant_id = _uuid(claims["ptp"])
    elif token_type == CLIENT_TOKEN:
        client_id = subject.removeprefix("client:")
        if not client_id:
            raise InvalidToken("no client id")
    else:
        if role not in {Role.practitioner, Role.supervisor, Role.org_admin}:
            raise InvalidToken("external role not accepted")
        scopes &= ROLE_SCOPES[Role(role)]
    return Caller(
        subject=subject,
        token_type=token_type,
        org_id=org_id,
        org_kind=org_kind,
        role=role,
        scopes=scopes,
        token_id=str(claims.get("jti", "")),
        purpose=purpose,
        request_id=request_id,
        user_id=user_id,
        participant_id=participant_id,
        client_id=client_id,
        credentials_version=version,
    )


def _credentials_version(value: object) -> int:
    """A user token's `cv` claim (0 when absent: tokens issued before it existed)."""
    if type(value) is not int or not 0 <= value < 2**31:
        raise InvalidToken("malformed credentials version")
    return value


def _uuid(value: object) -> uuid.UUID:
    """A UUID written the canonical way only (uuid.UUID also takes braces and `urn:`)."""
    if not isinstance(value, str):
        raise InvalidToken("not a UUID")
    parsed = uuid.UUID(value)
    if str(parsed) != value:
        raise InvalidToken("not a canonical UUID")
    return parsed


def _purpose(value: str | None) -> Purpose:
    if value is None:
        return Purpose.direct_care
    try:
        return Purpose(value)
    except ValueError:
        raise Unprocessable(
            f"X-Purpose must be one of: {', '.join(p.value for p in Purpose)}."
        ) from None


X_PURPOSE_DOC = "Purpose of use; default direct_care."


async def get_caller(
    security_scopes: SecurityScopes,
    request: Request,
    session: DbSession,
    token: Annotated[str | None, Depends(oauth2)],
    x_purpose: Annotated[str | None, Header(description=X_PURPOSE_DOC)] = None,
) -> Caller:
    """The verified caller, holding every scope the operation requires."""
    return await authenticate(security_scopes.scopes, request, session, token, x_purpose)


async def authenticate(
    required: Sequence[str],
    request: Request,
    session: Session,
    token: str | None,
    x_purpose: str | None,
) -> Caller:
    """The verified caller holding every scope in `required` (401 / 403 otherwise).

    `session` is the request's own session, used only for an external token's
    organisation and when the active-subject cache has no fresh answer (both looked up
    in the thread pool, so a stalled database cannot freeze the event loop).
    """
    if not token or not token.lower().startswith("bearer "):
        raise Unauthorized()
    raw = token[7:].strip()
    try:
        claims = verify_token(raw)
        caller = caller_from_claims(
            claims, _purpose(x_purpose), getattr(request.state, "request_id", "")
        )
    except InvalidToken:
        raise Unauthorized("The bearer token is not valid.") from None
    if caller.token_type == "external":
        caller = await run_in_threadpool(_bind_external_org, caller, session)
    else:
        subject = _subject(caller)
        # A fresh cached answer costs nothing; a miss is a lookup, run off the event loop.
        active = active_cache.fresh(subject)
        if active is None:
            active = await run_in_threadpool(subject_is_active, session, subject)
        if not active:
            raise Unauthorized("The account or organisation behind this token is not active.")
    missing = [s for s in required if s not in caller.scopes]
    if missing:
        raise Forbidden(f"The token lacks the scope(s): {' '.join(missing)}.")
    return caller


def _subject(caller: Caller) -> Subject:
    return Subject(
        credentials_version=caller.credentials_version,
        token_type=caller.token_type,
        org_id=caller.org_id,
        role=caller.role,
        user_id=caller.user_id,
        participant_id=caller.participant_id,
        client_id=caller.client_id,
    )


def _bind_external_org(caller: Caller, session: Session) -> Caller:
    """An external token's organisation must exist here; its kind is taken from our record.

    Looked up in the request's own session: a second connection would not see the
    request's transaction, and on SQLite it would wait for the request's write lock.
    """
    from app.models.organisation import Organisation

    org = session.get(Organisation, caller.org_id)
    if org is None or not org.active:
        raise Unauthorized("The token's organisation is not known here.")
    return replace(caller, org_kind=org.kind)
