"""Access tokens for users and partner-system clients (shared by the API and the CLI)."""

from typing import Any

from pydantic import BaseModel

from app.auth.scopes import ROLE_SCOPES, parse_scope
from app.auth.tokens import CLIENT_TOKEN, PARTNER_ROLE, USER_TOKEN, issue_token
from app.core.errors import AppError
from app.models.organisation import ApiClient, Organisation, Role, User


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    scope: str


class InvalidScope(AppError):
    status, title, slug = 400, "Invalid scope", "invalid-scope"


def _granted(allowed: frozenset[str] | set[str], requested: str | None) -> set[str]:
    wanted = parse_scope(requested)
    if not wanted:
        return set(allowed)
    if not wanted <= set(allowed):
        raise InvalidScope(
            "The requested scope exceeds what this account may have.",
            extensions={"error": "invalid_scope"},
        )
    return wanted


def token_for_user(user: User, org: Organisation, requested: str | None = None) -> TokenResponse:
    """A user token carrying the role's scopes (or the requested subset)."""
    scopes = _granted(ROLE_SCOPES[Role(user.role)], requested)
    extra: dict[str, Any] = {"cv": user.credentials_version}
    if user.participant_id:
        extra["ptp"] = str(user.participant_id)
    token, ttl = issue_token(
        subject=f"user:{user.id}",
        token_type=USER_TOKEN,
        org_id=org.id,
        org_kind=org.kind,
        role=user.role,
        scopes=scopes,
        extra=extra,
    )
    return TokenResponse(access_token=token, expires_in=ttl, scope=" ".join(sorted(scopes)))


def token_for_client(
    client: ApiClient, org: Organisation, requested: str | None = None
) -> TokenResponse:
    """A client-credentials token carrying the client's scopes (or the requested subset)."""
    scopes = _granted(set(client.scopes), requested)
    token, ttl = issue_token(
        subject=f"client:{client.client_id}",
        token_type=CLIENT_TOKEN,
        org_id=org.id,
        org_kind=org.kind,
        role=PARTNER_ROLE,
        scopes=scopes,
    )
    return TokenResponse(access_token=token, expires_in=ttl, scope=" ".join(sorted(scopes)))
