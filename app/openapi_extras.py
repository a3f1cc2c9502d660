"""The OpenAPI contract beyond what the routes declare: ids, tags, headers, descriptions.

Everything here is central on purpose: a route declares what it does, and the rules that
make the document good for generated clients (operationIds, required preconditions,
response headers, field descriptions) are applied once, for every route, here.
"""

import re
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from app.openapi_glossary import EXAMPLES, FIELD_DESCRIPTIONS, SCHEMA_DESCRIPTIONS
from app.sharing.categories import Purpose
from app.sharing.deps import GATE_SCOPES

# A route function whose name is not a verb phrase gets a better method name here.
OPERATION_RENAMES = {
    "healthz": "getHealth",
    "readyz": "getReadiness",
    "read_metrics": "getMetrics",
    "get_jwks": "getJwks",
    "break_glass": "openBreakGlass",
    "break_glass_queue": "listBreakGlassGrants",
    "stale_services": "listStaleServices",
    "reminders_due": "listRemindersDue",
    "missed_appointments": "listMissedAppointments",
    "screening_trend": "readScreeningTrend",
    "export_hsds": "exportHsds",
    "search_services": "listServices",
    "read_hsds_meta": "getHsdsMeta",
    "list_hsds_services": "listHsdsServices",
    "read_hsds_service": "getHsdsService",
}

TAGS: list[dict[str, str]] = [
    {"name": "auth", "description": "Access tokens (OAuth 2), the signing keys, who a token is."},
    {
        "name": "admin",
        "description": "Organisations, user accounts and partner-system clients (scope `admin`).",
    },
    {
        "name": "organisations",
        "description": "The read-only directory of partner organisations "
        "(find the `to_org_id` of a referral).",
    },
    {
        "name": "participants",
        "description": "People leaving prison: identity, custody, phase, "
        "care team, consent, the disclosure log and why a category is or is not shared.",
    },
    {
        "name": "sharing",
        "description": "The sharing decision explained, consent and the disclosure log.",
    },
    {
        "name": "sharing protocols",
        "description": "Information-sharing agreements between organisations (versioned).",
    },
    {
        "name": "break-glass",
        "description": "Emergency access when there is a risk to life and "
        "consent cannot be sought: always audited and reviewed.",
    },
    {"name": "notices", "description": "Notices to an organisation (e.g. a consent withdrawn)."},
    {"name": "plan", "description": "The shared action plan: goals, steps, reviews, versions."},
    {
        "name": "appointments",
        "description": "Appointments, attendance, reminders and missed appointments.",
    },
    {
        "name": "risk and screenings",
        "description": "Risk alerts and PHQ-9 / GAD-7 / CORE-10 screenings (scored by the server).",
    },
    {"name": "timeline", "description": "Everything that happened to a participant, in order."},
    {"name": "directory", "description": "Services that take referrals (Open Referral HSDS)."},
    {"name": "referrals", "description": "Referrals between organisations, with a closed loop."},
    {"name": "release", "description": "Release readiness and upcoming releases."},
    {"name": "operations", "description": "Liveness, readiness and metrics."},
    {
        "name": "consent",
        "description": "Who was told of a consent withdrawal, and who acknowledged.",
    },
    {
        "name": "webhooks",
        "description": "Signed webhook subscriptions (Standard Webhooks) and deliveries.",
    },
    {"name": "events", "description": "The pull feed of the same events webhooks deliver."},
    {
        "name": "movements",
        "description": "Prison movements from partner systems (idempotent by event id).",
    },
    {"name": "fhir", "description": "A FHIR Bundle of exactly what the caller may see."},
    {"name": "case notes", "description": "Dated case notes, one data category each, versioned."},
    {
        "name": "documents",
        "description": "Attachments checked by content, stored with their SHA-256.",
    },
    {"name": "engagement", "description": "Engagement with community services after release."},
    {"name": "endings", "description": "The intervention's end and its ending checklist."},
    {
        "name": "governance",
        "description": "The person's restrictions and objections, restricted records, subject "
        "access and statistics without personal data.",
    },
]

_STATUS_BODY = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ok"], "description": "Always `ok`."},
    },
    "required": ["status"],
    "description": "The process is up.",
}
_READY_BODY = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ok"], "description": "Always `ok`."},
        "database": {"type": "string", "enum": ["ok"], "description": "The database answered."},
    },
    "required": ["status", "database"],
    "description": "The process is up and its database is reachable.",
}
_JWK = {
    "type": "object",
    "description": "One public key (RFC 7517).",
    "properties": {
        "kty": {"type": "string", "description": "Key type (`EC` or `RSA`)."},
        "kid": {"type": "string", "description": "Key id, named in each token's header."},
        "use": {"type": "string", "description": "Always `sig`."},
        "alg": {"type": "string", "description": "Signing algorithm (`ES256` or `RS256`)."},
    },
    "required": ["kty", "kid"],
    "additionalProperties": True,
}
_JWKS_BODY = {
    "type": "object",
    "description": "A JSON Web Key Set (RFC 7517).",
    "properties": {"keys": {"type": "array", "items": _JWK, "description": "The keys."}},
    "required": ["keys"],
}
_RESPONSE_SCHEMAS = {
    ("/healthz", "get"): _STATUS_BODY,
    ("/readyz", "get"): _READY_BODY,
    ("/.well-known/jwks.json", "get"): _JWKS_BODY,
}

PLAN_PATH = "/api/v1/participants/{participant_id}/plan"
_ETAG_HEADER = {
    "description": "The version tag of the record: send it back in `If-Match` to change it.",
    "schema": {"type": "string"},
}
_UNAVAILABLE = {
    "description": "Database unavailable: retry after `Retry-After` seconds",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
_RETRY_AFTER_HEADER = {
    "description": "Seconds to wait before retrying.",
    "schema": {"type": "integer", "minimum": 0},
}


def operation_id(route: APIRoute) -> str:
    """A short camelCase method name from the route function's name."""
    if route.name in OPERATION_RENAMES:
        return OPERATION_RENAMES[route.name]
    head, *rest = route.name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _docstring_summaries(app: FastAPI) -> dict[tuple[str, str], str]:
    """(path, method) → the first line of the route's docstring, where no summary is set."""
    out: dict[tuple[str, str], str] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or route.summary or not route.description:
            continue
        paragraph = route.description.strip().split("\n\n")[0]
        first = " ".join(paragraph.split()).rstrip(".")
        for method in route.methods or ():
            out[(str(context.path), method.lower())] = first
    return out


def _gate_scopes(dependant: Any) -> list[str] | None:
    for sub in dependant.dependencies:
        scopes = getattr(sub.call, GATE_SCOPES, None)
        if scopes is not None:
            return list(scopes)
        found = _gate_scopes(sub)
        if found is not None:
            return found
    return None


def _gated_operations(app: FastAPI) -> dict[tuple[str, str], list[str]]:
    """(path, method) -> the scopes of the operation's gate dependency, for every route
    taking one (app/sharing/deps.py `gate_with`)."""
    out: dict[tuple[str, str], list[str]] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        scopes = _gate_scopes(route.dependant)
        if scopes is not None:
            for method in route.methods or ():
                out[(str(context.path), method.lower())] = scopes
    return out


def _document_gate(operation: dict[str, Any], scopes: list[str]) -> None:
    # What FastAPI wrote when the gate declared `Security(oauth2, scopes=...)` and the
    # X-Purpose header as parameters (the gate now reads both itself, for speed): the
    # OAuth2 requirement, and the header after the operation's own parameters.
    operation.setdefault("security", []).insert(0, {"oauth2": scopes})
    operation.setdefault("parameters", []).append(
        {"name": "x-purpose", "in": "header", "required": False, "schema": {}}
    )


def _purpose_header(parameter: dict[str, Any]) -> None:
    parameter["name"] = "X-Purpose"
    parameter["schema"] = {"$ref": "#/components/schemas/Purpose"}
    parameter["description"] = (
        "Purpose of use; the sharing decision and the disclosure log use it. Default `direct_care`."
    )


def _finish_parameters(method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    for parameter in operation.get("parameters", []):
        name = parameter.get("name", "").lower()
        if parameter.get("in") != "header":
            continue
        if name == "x-purpose":
            _purpose_header(parameter)
        elif name == "if-match":
            parameter["schema"] = {"type": "string"}
            if "428" in responses:
                parameter["required"] = True
                parameter["description"] = (
                    "The `ETag` from your last read. Required: 428 without it, 412 when the "
                    "record changed since."
                )
            else:
                parameter["description"] = (
                    "Optional `ETag` from your last read; when sent, 412 if the record changed."
                )
        elif name == "idempotency-key":
            schema = parameter.get("schema", {})
            parameter["schema"] = {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                **{k: v for k, v in schema.items() if k in ("minLength", "maxLength")},
            }
            responses.setdefault(
                "428",
                {"description": "Precondition required (partner systems must send the key)"},
            )


def _finish_responses(path: str, method: str, operation: dict[str, Any], etag: bool) -> None:
    responses = operation.get("responses", {})
    for status, response in responses.items():
        if status in ("429", "503"):
            response.setdefault("headers", {})["Retry-After"] = _RETRY_AFTER_HEADER
        if etag and status in ("200", "201"):
            response.setdefault("headers", {})["ETag"] = _ETAG_HEADER
    body = _RESPONSE_SCHEMAS.get((path, method))
    if body is not None:
        responses["200"]["content"] = {"application/json": {"schema": body}}


def _optional_body(operation: dict[str, Any]) -> None:
    """A body declared `X | None = None` is optional: say so without a null schema."""
    body = operation.get("requestBody")
    if not body or body.get("required"):
        return
    for media in body.get("content", {}).values():
        schema = media.get("schema", {})
        options = [s for s in schema.get("anyOf", []) if s != {"type": "null"}]
        if len(options) == 1 and len(schema.get("anyOf", [])) == 2:
            media["schema"] = options[0]
    body["required"] = False


def _versioned_paths(paths: dict[str, Any]) -> set[str]:
    """Paths whose record is changed with If-Match: their reads and writes carry ETag."""
    return {PLAN_PATH} | {
        path
        for path, item in paths.items()
        for operation in item.values()
        if any(p.get("name", "").lower() == "if-match" for p in operation.get("parameters", []))
    }


_PAGE = re.compile(r"(Record)?Page_(\w+)_")


def _describe_schemas(components: dict[str, Any]) -> None:
    for name, schema in components.items():
        if name in EXAMPLES and "examples" not in schema:
            schema["examples"] = [EXAMPLES[name]]
        page = _PAGE.fullmatch(name)
        if not schema.get("description") and name in SCHEMA_DESCRIPTIONS:
            schema["description"] = SCHEMA_DESCRIPTIONS[name]
        elif not schema.get("description") and page:
            counted = "; `withheld` counts records left out" if page.group(1) else ""
            schema["description"] = f"One page of {page.group(2)} (cursor pagination{counted})."
        for field, prop in schema.get("properties", {}).items():
            if "description" in prop:
                continue
            text = FIELD_DESCRIPTIONS.get(f"{name}.{field}") or FIELD_DESCRIPTIONS.get(field)
            if text:
                prop["description"] = text


def _creates_versioned(path: str, method: str, versioned: set[str]) -> bool:
    return method == "post" and any(
        re.fullmatch(re.escape(path) + r"/\{[a-z_]+\}", v) for v in versioned
    )


_METHODS = ("get", "put", "patch", "post", "delete")


def _has_id(response: dict[str, Any], components: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    target = components.get(ref.rsplit("/", 1)[-1], {}) if ref else schema
    return "id" in target.get("properties", {})


def _add_links(paths: dict[str, Any], components: dict[str, Any]) -> None:
    """OpenAPI links from each create (201 with an `id`) to the operations on what it
    created: the item itself and one level below it (e.g. createReferral -> readReferral,
    updateReferral, actOnReferral). Generated clients and stateful tests follow them."""
    for collection, item in paths.items():
        created = item.get("post", {}).get("responses", {}).get("201")
        if not created or not _has_id(created, components):
            continue
        below = re.compile(re.escape(collection) + r"/\{(?P<param>[a-z_]*id)\}(/[^/]+)?")
        carried = {
            name: f"$request.path.{name}" for name in re.findall(r"\{([a-z_]+)\}", collection)
        }
        links: dict[str, Any] = {}
        for target, target_item in paths.items():
            match = below.fullmatch(target)
            if not match:
                continue
            for method in _METHODS:
                operation = target_item.get(method)
                if operation is None:
                    continue
                links[operation["operationId"]] = {
                    "operationId": operation["operationId"],
                    "parameters": {match["param"]: "$response.body#/id", **carried},
                    "description": f"The created record's `id` is `{match['param']}` there.",
                }
        if links:
            created["links"] = links


def finish_document(schema: dict[str, Any], app: FastAPI, servers: list[str]) -> dict[str, Any]:
    """Apply the contract rules to the generated document (after the problem responses)."""
    schema["servers"] = [{"url": url} for url in servers]
    schema["tags"] = TAGS
    summaries = _docstring_summaries(app)
    gated = _gated_operations(app)
    paths: dict[str, Any] = schema.get("paths", {})
    versioned = _versioned_paths(paths)
    for path, item in paths.items():
        for method, operation in item.items():
            if (path, method) in summaries:
                operation["summary"] = summaries[(path, method)]
            if (path, method) in gated:
                _document_gate(operation, gated[(path, method)])
            _finish_parameters(method, operation)
            if path.startswith("/api/v1/"):
                # Any database work can meet a database that is down, locked or full.
                operation["responses"].setdefault("503", _UNAVAILABLE)
            etag = path in versioned and method in ("get", "patch", "put", "post")
            etag = etag or _creates_versioned(path, method, versioned)
            _finish_responses(path, method, operation, etag)
            _optional_body(operation)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(
        "Purpose", {"type": "string", "enum": [p.value for p in Purpose], "title": "Purpose"}
    )
    _describe_schemas(components)
    _add_links(paths, components)
    return schema
