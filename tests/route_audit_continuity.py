"""Audit cases of the continuity routes (issue 13): case notes, engagement, documents."""

from typing import Any

from app.core.etags import etag_for
from tests.route_audit_cases import Call, allowed, case, denied
from tests.route_table import P
from tests.route_world import RouteWorld

NOTE = {
    "kind": "meeting",
    "category": "mental_health",
    "occurred_on": "2026-11-20",
    "text": "Synthetic note",
}


def _note(w: RouteWorld) -> dict[str, Any]:
    return w.make("POST", w.url("/notes"), NOTE)


@case("GET", f"{P}/notes", "allowed", "lead organisation")
def _list_notes(w: RouteWorld) -> Call:
    _note(w)
    return Call("GET", w.url("/notes"), w.h(w.coord), 200, allowed(w.pid))


@case("GET", f"{P}/notes", "refused", "no relationship: 404")
def _list_notes_stranger(w: RouteWorld) -> Call:
    _note(w)
    return Call("GET", w.url("/notes"), w.h(w.housing), 404, denied(w.pid))


@case("GET", f"{P}/notes", "refused", "a care-team peer without the category: all withheld")
def _list_notes_peer(w: RouteWorld) -> Call:
    _note(w)
    return Call("GET", w.url("/notes"), w.h(w.peer), 200, denied(w.pid))


@case("POST", f"{P}/notes", "allowed", "lead organisation")
def _write_note(w: RouteWorld) -> Call:
    return Call("POST", w.url("/notes"), w.h(w.coord), 201, allowed(w.pid), json=NOTE)


@case("POST", f"{P}/notes", "refused", "no relationship: 404")
def _write_note_stranger(w: RouteWorld) -> Call:
    return Call("POST", w.url("/notes"), w.h(w.housing), 404, denied(w.pid), json=NOTE)


_ONE = f"{P}/notes/{{note_id}}"


@case("GET", _ONE, "allowed", "the author's organisation")
def _read_note(w: RouteWorld) -> Call:
    url = w.url(f"/notes/{_note(w)['id']}")
    return Call("GET", url, w.h(w.coord), 200, allowed(w.pid))


@case("GET", _ONE, "refused", "a care-team peer without the category: 404")
def _read_note_peer(w: RouteWorld) -> Call:
    url = w.url(f"/notes/{_note(w)['id']}")
    return Call("GET", url, w.h(w.peer), 404, denied(w.pid))


@case("PATCH", _ONE, "allowed", "the author's organisation")
def _amend_note(w: RouteWorld) -> Call:
    url = w.url(f"/notes/{_note(w)['id']}")
    headers = w.h(w.coord, **{"If-Match": etag_for("note", 1)})
    body = {"text": "Amended", "reason": "Corrected"}
    return Call("PATCH", url, headers, 200, allowed(w.pid), json=body)


@case("PATCH", _ONE, "refused", "no relationship: 404")
def _amend_note_stranger(w: RouteWorld) -> Call:
    url = w.url(f"/notes/{_note(w)['id']}")
    headers = w.h(w.housing, **{"If-Match": etag_for("note", 1)})
    body = {"text": "Amended", "reason": "Corrected"}
    return Call("PATCH", url, headers, 404, denied(w.pid), json=body)


@case("GET", f"{_ONE}/versions", "allowed", "the author's organisation")
def _note_versions(w: RouteWorld) -> Call:
    url = w.url(f"/notes/{_note(w)['id']}/versions")
    return Call("GET", url, w.h(w.coord), 200, allowed(w.pid))


@case("GET", f"{_ONE}/versions", "refused", "no relationship: 404")
def _note_versions_stranger(w: RouteWorld) -> Call:
    url = w.url(f"/notes/{_note(w)['id']}/versions")
    return Call("GET", url, w.h(w.housing), 404, denied(w.pid))


def _released(w: RouteWorld, *pids: Any) -> None:
    """Both participants released ten days ago, into the community."""
    from datetime import date, timedelta

    from app.models.participant import Participant, Phase

    for pid in pids:
        row = w.db.get(Participant, pid)
        assert row is not None
        row.phase = Phase.community
        row.actual_release_date = date.today() - timedelta(days=10)
        w.db.add(row)
    w.db.commit()


@case("GET", f"{P}/engagement", "allowed", "lead organisation (raises its notices)")
def _engagement(w: RouteWorld) -> Call:
    _released(w, w.pid)
    return Call("GET", w.url("/engagement"), w.h(w.coord), 200, allowed(w.pid))


@case("GET", f"{P}/engagement", "refused", "no relationship: 404")
def _engagement_stranger(w: RouteWorld) -> Call:
    _released(w, w.pid)
    return Call("GET", w.url("/engagement"), w.h(w.housing), 404, denied(w.pid))


ENGAGEMENT = "/api/v1/caseload/engagement"


@case("GET", ENGAGEMENT, "allowed", "the lead organisation: one event per person")
def _caseload_engagement(w: RouteWorld) -> Call:
    _released(w, w.pid, w.pid2)
    return Call("GET", ENGAGEMENT, w.h(w.coord), 200, allowed(w.pid, w.pid2))


@case("GET", ENGAGEMENT, "refused", "a state filter: people left off leave no event")
def _caseload_engagement_filtered(w: RouteWorld) -> Call:
    _released(w, w.pid, w.pid2)
    url = f"{ENGAGEMENT}?state=engaged"
    return Call("GET", url, w.h(w.coord), 200, {})


@case("GET", ENGAGEMENT, "refused", "no relationship: an empty page")
def _caseload_engagement_stranger(w: RouteWorld) -> Call:
    _released(w, w.pid, w.pid2)
    return Call("GET", ENGAGEMENT, w.h(w.housing), 200, {})
