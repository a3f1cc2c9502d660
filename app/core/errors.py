"""One error base class, rendered as RFC 9457 problem+json by one set of handlers."""

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("throughcare.errors")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://throughcare.example/problems/"
# Parser messages can quote a fragment of the submitted value in backticks; never echo it.
_QUOTED = re.compile(r"`[^`]*`")


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


class AppError(Exception):
    """Base of every error the API answers on purpose."""

    status: int = 400
    title: str = "Bad request"
    slug: str = "bad-request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extensions = extensions or {}


class Unauthorized(AppError):
    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str = "A valid bearer token is required.") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class Forbidden(AppError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(AppError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(AppError):
    status, title, slug = 409, "Conflict", "conflict"


class PreconditionFailed(AppError):
    status, title, slug = 412, "Precondition failed", "precondition-failed"


class PreconditionRequired(AppError):
    status, title, slug = 428, "Precondition required", "precondition-required"


class Unprocessable(AppError):
    status, title, slug = 422, "Unprocessable content", "unprocessable"


class TooManyRequests(AppError):
    status, title, slug = 429, "Too many requests", "too-many-requests"


class PayloadTooLarge(AppError):
    status, title, slug = 413, "Payload too large", "payload-too-large"


class ServiceUnavailable(AppError):
    status, title, slug = 503, "Service unavailable", "unavailable"


# What the database said, by the words its drivers use (SQLite's messages are fixed
# strings; psycopg's SQLSTATE classes are in `sqlstate`). Anything else is a bug (500).
_SQLITE_REASONS = (
    ("locked", "locked"),
    ("busy", "locked"),
    ("readonly", "read_only"),
    ("read-only", "read_only"),
    ("disk is full", "full"),
    ("disk i/o", "io_error"),
    ("unable to open", "unreachable"),
    ("no such table", "not_migrated"),
)
_PG_SQLSTATE_REASONS = {
    "08": "unreachable",  # connection exception
    "53": "full",  # insufficient resources (53100 disk full, 53300 too many connections)
    "57": "unreachable",  # operator intervention: shutdown, query canceled (timeout)
    "55P03": "locked",  # lock_not_available (lock_timeout)
    "57014": "timeout",  # query_canceled (statement_timeout)
    "25006": "read_only",  # read_only_sql_transaction (standby, read-only mode)
    "42P01": "not_migrated",  # undefined_table
    "40001": "locked",  # serialization_failure
    "40P01": "locked",  # deadlock_detected
}


def database_unavailable(exc: BaseException) -> str | None:
    """Why the database could not serve the request, or None if `exc` is not that."""
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection within pool_timeout
        return "busy"
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    if exc.connection_invalidated:
        return "unreachable"
    original = exc.orig
    sqlstate = getattr(original, "sqlstate", None)
    if isinstance(sqlstate, str):
        return _PG_SQLSTATE_REASONS.get(sqlstate) or _PG_SQLSTATE_REASONS.get(sqlstate[:2])
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        message = str(original).lower()
        for needle, reason in _SQLITE_REASONS:
            if needle in message:
                return reason
        return "unreachable"
    return None


def unavailable_response(request: Request | None, reason: str) -> JSONResponse:
    """503 problem+json with Retry-After, naming the reason (never the database's words)."""
    from app.core.settings import get_settings

    return problem_response(
        503,
        ServiceUnavailable.title,
        ServiceUnavailable.slug,
        request,
        "The database cannot serve this request now; retry after the indicated delay.",
        headers={"Retry-After": str(get_settings().db_retry_after_seconds)},
        extensions={"database": reason},
    )


def problem_response(
    status: int,
    title: str,
    slug: str,
    request: Request | None,
    detail: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
    instance: str | None = None,
) -> JSONResponse:
    """A problem+json response; `instance` defaults to the request's path."""
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status}
    body.update(extensions or {})
    if detail:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    elif request is not None:
        body["instance"] = request.url.path
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def error_responses(*classes: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the given error classes."""
    out: dict[int | str, dict[str, Any]] = {}
    for cls in classes:
        out[cls.status] = {
            "model": Problem,
            "description": cls.title,
            "content": {PROBLEM_JSON: {}},
        }
    return out


_STATUS_SLUGS = {
    400: ("Bad request", "bad-request"),
    401: ("Unauthorized", "unauthorized"),
    403: ("Forbidden", "forbidden"),
    404: ("Not found", "not-found"),
    405: ("Method not allowed", "method-not-allowed"),
    406: ("Not acceptable", "not-acceptable"),
    409: ("Conflict", "conflict"),
    413: ("Payload too large", "payload-too-large"),
    415: ("Unsupported media type", "unsupported-media-type"),
    422: ("Unprocessable content", "unprocessable"),
}


def _clean_validation_errors(exc: RequestValidationError) -> tuple[list[dict[str, Any]], bool]:
    errors: list[dict[str, Any]] = []
    malformed_json = False
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            malformed_json = True
        # Never echo the submitted value back: it may be personal data.
        errors.append(
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "msg": _QUOTED.sub("…", str(err.get("msg", ""))),
                "type": str(err.get("type", "")),
            }
        )
    return errors, malformed_json


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through problem+json."""

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.title,
            exc.slug,
            request,
            exc.detail,
            exc.errors,
            exc.headers,
            exc.extensions,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors, malformed = _clean_validation_errors(exc)
        instance = None
        if any(e["loc"][:1] == ["path"] for e in errors):
            # The path holds the rejected value (a mistyped id may be an NHS number):
            # name the route template instead of echoing it.
            instance = getattr(request.scope.get("route"), "path", None) or "<unmatched>"
        if malformed:
            return problem_response(
                400,
                "Malformed JSON",
                "malformed-json",
                request,
                "The request body is not valid JSON.",
                errors,
            )
        return problem_response(
            422,
            "Validation failed",
            "validation",
            request,
            "The request did not pass validation; see `errors`.",
            errors,
            instance=instance,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title, slug = _STATUS_SLUGS.get(exc.status_code, ("Error", "error"))
        detail = exc.detail if isinstance(exc.detail, str) and exc.status_code != 404 else None
        if exc.status_code == 404:
            detail = "No such resource."
        headers = dict(exc.headers or {})
        instance = None
        if exc.status_code == 405:
            # Starlette names only the first matching route's methods.
            from app.core.methods import allowed_methods

            allow, template = allowed_methods(request.app.routes, request.scope["path"])
            headers["Allow"] = ", ".join(allow)
            detail = f"This path takes {', '.join(allow)}."
            # Name the template, not the path: a mistyped id may be personal data.
            instance = template or "<unmatched>"
        return problem_response(
            exc.status_code, title, slug, request, detail, headers=headers, instance=instance
        )

    @app.exception_handler(SQLAlchemyError)
    async def _database(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        reason = database_unavailable(exc)
        if reason is None:
            return internal_error_response(request, exc)
        log.warning(
            "database unavailable (%s, request_id=%s): %s",
            reason,
            getattr(request.state, "request_id", ""),
            type(exc.__cause__ or exc).__name__,
        )
        return unavailable_response(request, reason)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Only reached for errors outside the routes (UnhandledErrorMiddleware answers
        # the rest without re-raising, so the connection stays open).
        request_id = str(getattr(request.state, "request_id", ""))
        return internal_error_response(
            request, exc, headers={"X-Request-ID": request_id} if request_id else None
        )


def internal_error_response(
    request: Request, exc: BaseException, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The 500 problem+json for a bug: logged with its traceback, nothing leaked."""
    log.error(
        "unhandled error (request_id=%s)",
        getattr(request.state, "request_id", ""),
        exc_info=exc,
    )
    return problem_response(
        500,
        "Internal server error",
        "internal",
        request,
        "The server could not complete the request. It has been logged.",
        headers=headers,
    )


def _document_request_problems(operation: dict[str, Any]) -> None:
    """Declare the 4xx answers that come from the request's envelope, not the route.

    A JSON body can be malformed (400) or too large (413, BodySizeLimitMiddleware);
    a `cursor` can be one the server never issued (400).
    """
    responses = operation.setdefault("responses", {})
    body = operation.get("requestBody", {}).get("content", {})
    if body:
        if "application/json" in body:
            responses.setdefault("400", {"description": "Malformed JSON"})
        responses.setdefault("413", {"description": "Payload too large"})
    parameters = operation.get("parameters", [])
    if any(p.get("in") == "query" and p.get("name") == "cursor" for p in parameters):
        responses.setdefault("400", {"description": "Invalid cursor"})


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Make every documented 4xx/5xx response say what is really sent: problem+json."""
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            _document_request_problems(operation)
            for status, response in operation.get("responses", {}).items():
                if str(status)[0] in {"4", "5"}:
                    response["content"] = {PROBLEM_JSON: {"schema": problem_ref}}
                    if str(status) == "422":
                        response["description"] = "Validation failed (see `errors`)"
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Problem", Problem.model_json_schema())
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema
