"""One error base class, rendered as RFC 9457 problem+json by one set of handlers."""

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
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

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # This response is sent outside the request-id middleware, so it adds the id
        # itself: it is what a caller quotes when reporting the failure.
        request_id = str(getattr(request.state, "request_id", ""))
        log.error("unhandled error (request_id=%s)", request_id, exc_info=exc)
        return problem_response(
            500,
            "Internal server error",
            "internal",
            request,
            "The server could not complete the request. It has been logged.",
            headers={"X-Request-ID": request_id} if request_id else None,
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
