"""Audit cases for the governance routes (issue 14); registered by tests/route_audit_cases."""

from typing import Any

from app.models.organisation import Role
from tests.route_audit_cases import Call, allowed, case, denied
from tests.route_table import P
from tests.route_world import RouteWorld

RESTRICTION = {"categories": ["contact"], "target": "outside_lead"}


def _restriction(w: RouteWorld) -> dict[str, Any]:
    return w.make("POST", w.url("/restrictions"), RESTRICTION)


@case("GET", f"{P}/restrictions", "allowed", "lead organisation")
def _list(w: RouteWorld) -> Call:
    return Call("GET", w.url("/restrictions"), w.h(w.coord), 200, allowed(w.pid))


@case("GET", f"{P}/restrictions", "refused", "no relationship: 404")
def _list_stranger(w: RouteWorld) -> Call:
    return Call("GET", w.url("/restrictions"), w.h(w.housing), 404, denied(w.pid))


@case("POST", f"{P}/restrictions", "allowed", "the person themself")
def _record(w: RouteWorld) -> Call:
    return Call("POST", w.url("/restrictions"), w.me(), 201, allowed(w.pid), json=RESTRICTION)


@case("POST", f"{P}/restrictions", "refused", "a partner system with no relationship: 404")
def _record_refused(w: RouteWorld) -> Call:
    headers = w.partner(w.housing, "consents:write")
    return Call("POST", w.url("/restrictions"), headers, 404, denied(w.pid), json=RESTRICTION)


@case("POST", f"{P}/restrictions/{{restriction_id}}/lift", "allowed", "the lead organisation")
def _lift(w: RouteWorld) -> Call:
    rid = _restriction(w)["id"]
    body = {"reason": "Synthetic: lifted"}
    return Call(
        "POST", w.url(f"/restrictions/{rid}/lift"), w.h(w.coord), 200, allowed(w.pid), json=body
    )


@case("POST", f"{P}/restrictions/{{restriction_id}}/lift", "refused", "another participant: 404")
def _lift_other(w: RouteWorld) -> Call:
    rid = _restriction(w)["id"]
    body = {"reason": "Synthetic: lifted"}
    return Call(
        "POST", w.url(f"/restrictions/{rid}/lift"), w.me(w.pid2), 404, denied(w.pid), json=body
    )


@case("POST", "/api/v1/objections/{objection_id}/decide", "allowed", "lead's governance lead")
def _decide(w: RouteWorld) -> Call:
    oid = _restriction(w)["objection_id"]
    body = {"outcome": "upheld", "reason": "Synthetic decision"}
    url = f"/api/v1/objections/{oid}/decide"
    return Call("POST", url, w.h(w.coord, Role.governance_lead), 200, allowed(w.pid), json=body)


@case("POST", "/api/v1/objections/{objection_id}/decide", "refused", "a partner's lead: 403")
def _decide_refused(w: RouteWorld) -> Call:
    oid = _restriction(w)["objection_id"]
    body = {"outcome": "upheld", "reason": "Synthetic decision"}
    url = f"/api/v1/objections/{oid}/decide"
    return Call("POST", url, w.h(w.cmht, Role.governance_lead), 403, denied(w.pid), json=body)


RESTRICT = {"restricted": True, "reason": "Synthetic safeguarding", "org_ids": []}


@case("PUT", f"{P}/restricted-record", "allowed", "lead organisation's admin")
def _restrict(w: RouteWorld) -> Call:
    headers = w.h(w.coord, Role.org_admin)
    return Call("PUT", w.url("/restricted-record"), headers, 200, allowed(w.pid), json=RESTRICT)


@case("PUT", f"{P}/restricted-record", "refused", "a partner's admin: 403")
def _restrict_refused(w: RouteWorld) -> Call:
    headers = w.h(w.cmht, Role.org_admin)
    return Call("PUT", w.url("/restricted-record"), headers, 403, denied(w.pid), json=RESTRICT)


@case("GET", f"{P}/subject-access", "allowed", "lead organisation's admin")
def _subject_access(w: RouteWorld) -> Call:
    headers = w.h(w.coord, Role.org_admin)
    return Call("GET", w.url("/subject-access"), headers, 200, allowed(w.pid))


@case("GET", f"{P}/subject-access", "refused", "a practitioner of the lead: 403")
def _subject_access_refused(w: RouteWorld) -> Call:
    return Call("GET", w.url("/subject-access"), w.h(w.coord), 403, denied(w.pid))
