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


PDF = b"%PDF-1.4\n%%EOF\n"


def _document(w: RouteWorld) -> tuple[dict[str, Any], dict[str, Any]]:
    note = _note(w)
    response = w.client.post(
        w.url("/documents"), params={"note_id": note["id"]}, content=PDF, headers=w.h(w.coord)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return note, body


@case("GET", f"{P}/documents", "allowed", "lead organisation")
def _list_documents(w: RouteWorld) -> Call:
    _document(w)
    return Call("GET", w.url("/documents"), w.h(w.coord), 200, allowed(w.pid))


@case("GET", f"{P}/documents", "refused", "a care-team peer without the category: all withheld")
def _list_documents_peer(w: RouteWorld) -> Call:
    _document(w)
    return Call("GET", w.url("/documents"), w.h(w.peer), 200, denied(w.pid))


@case("GET", f"{P}/documents", "refused", "no relationship: 404")
def _list_documents_stranger(w: RouteWorld) -> Call:
    return Call("GET", w.url("/documents"), w.h(w.housing), 404, denied(w.pid))


def _upload_call(w: RouteWorld, org: Any, status: int, expect: Any) -> Call:
    note = _note(w)
    # Call has no raw-body field: the file goes as a JSON string, which is plain text.
    return Call(
        "POST",
        w.url("/documents"),
        w.h(org),
        status,
        expect,
        json="Synthetic letter text",
        params={"note_id": note["id"]},
    )


@case("POST", f"{P}/documents", "allowed", "the note's organisation")
def _upload(w: RouteWorld) -> Call:
    return _upload_call(w, w.coord, 201, allowed(w.pid))


@case("POST", f"{P}/documents", "refused", "no relationship: 404")
def _upload_stranger(w: RouteWorld) -> Call:
    return _upload_call(w, w.housing, 404, denied(w.pid))


@case("POST", f"{P}/documents", "refused", "another organisation's note it may not see: 404")
def _upload_peer(w: RouteWorld) -> Call:
    return _upload_call(w, w.peer, 404, denied(w.pid))


_CONTENT = f"{P}/documents/{{document_id}}/content"


@case("GET", _CONTENT, "allowed", "the uploading organisation")
def _download(w: RouteWorld) -> Call:
    _, doc = _document(w)
    return Call("GET", w.url(f"/documents/{doc['id']}/content"), w.h(w.coord), 200, allowed(w.pid))


@case("GET", _CONTENT, "refused", "a care-team peer without the category: 404")
def _download_peer(w: RouteWorld) -> Call:
    _, doc = _document(w)
    return Call("GET", w.url(f"/documents/{doc['id']}/content"), w.h(w.peer), 404, denied(w.pid))


ENDING_BODY = {"handover_confirmed": True, "participant_told": False}


def _ending_due(w: RouteWorld, *pids: Any) -> None:
    from datetime import date, timedelta

    from app.models.participant import Participant

    for pid in pids:
        row = w.db.get(Participant, pid)
        assert row is not None
        row.intervention_end = date.today() + timedelta(days=14)
        w.db.add(row)
    w.db.commit()


@case("GET", f"{P}/ending", "allowed", "lead organisation")
def _ending(w: RouteWorld) -> Call:
    _ending_due(w, w.pid)
    return Call("GET", w.url("/ending"), w.h(w.coord), 200, allowed(w.pid))


@case("GET", f"{P}/ending", "refused", "no relationship: 404")
def _ending_stranger(w: RouteWorld) -> Call:
    return Call("GET", w.url("/ending"), w.h(w.housing), 404, denied(w.pid))


@case("PUT", f"{P}/ending", "allowed", "lead organisation")
def _record_ending(w: RouteWorld) -> Call:
    headers = w.h(w.coord, **{"If-Match": etag_for("ending", 0)})
    return Call("PUT", w.url("/ending"), headers, 200, allowed(w.pid), json=ENDING_BODY)


@case("PUT", f"{P}/ending", "refused", "a contributor: 403")
def _record_ending_contributor(w: RouteWorld) -> Call:
    headers = w.h(w.cmht, **{"If-Match": etag_for("ending", 0)})
    return Call("PUT", w.url("/ending"), headers, 403, denied(w.pid), json=ENDING_BODY)


@case("PUT", f"{P}/ending", "refused", "no relationship: 404")
def _record_ending_stranger(w: RouteWorld) -> Call:
    headers = w.h(w.housing, **{"If-Match": etag_for("ending", 0)})
    return Call("PUT", w.url("/ending"), headers, 404, denied(w.pid), json=ENDING_BODY)


ENDINGS = "/api/v1/caseload/endings"


@case("GET", ENDINGS, "allowed", "the lead organisation: one event per person")
def _endings(w: RouteWorld) -> Call:
    _ending_due(w, w.pid, w.pid2)
    return Call("GET", ENDINGS, w.h(w.coord), 200, allowed(w.pid, w.pid2))


@case("GET", ENDINGS, "refused", "no relationship: an empty page")
def _endings_stranger(w: RouteWorld) -> Call:
    _ending_due(w, w.pid, w.pid2)
    return Call("GET", ENDINGS, w.h(w.housing), 200, {})


def _accepted(w: RouteWorld) -> dict[str, Any]:
    ref = w.referral
    w.make("POST", f"/api/v1/referrals/{ref['id']}/accept", {}, headers=w.h(w.housing))
    return ref


MILESTONE = {"kind": "first_contact_made", "occurred_on": "2026-11-25"}
_MILESTONES = "/api/v1/referrals/{referral_id}/milestones"


@case("POST", _MILESTONES, "allowed", "the receiving organisation")
def _milestone(w: RouteWorld) -> Call:
    url = f"/api/v1/referrals/{_accepted(w)['id']}/milestones"
    return Call("POST", url, w.h(w.housing), 201, allowed(w.pid), json=MILESTONE)


@case("POST", _MILESTONES, "refused", "the referring organisation: 403")
def _milestone_referrer(w: RouteWorld) -> Call:
    url = f"/api/v1/referrals/{_accepted(w)['id']}/milestones"
    return Call("POST", url, w.h(w.coord), 403, denied(w.pid), json=MILESTONE)


@case("POST", _MILESTONES, "refused", "not a party: 404")
def _milestone_stranger(w: RouteWorld) -> Call:
    url = f"/api/v1/referrals/{_accepted(w)['id']}/milestones"
    return Call("POST", url, w.h(w.peer), 404, denied(w.pid), json=MILESTONE)


@case("GET", _MILESTONES, "allowed", "the referring organisation")
def _milestones(w: RouteWorld) -> Call:
    url = f"/api/v1/referrals/{_accepted(w)['id']}/milestones"
    return Call("GET", url, w.h(w.coord), 200, allowed(w.pid))


@case("GET", _MILESTONES, "refused", "not a party: 404")
def _milestones_stranger(w: RouteWorld) -> Call:
    url = f"/api/v1/referrals/{_accepted(w)['id']}/milestones"
    return Call("GET", url, w.h(w.peer), 404, denied(w.pid))


_UPDATES = "/api/v1/referrals/{referral_id}/update-requests"


@case("POST", _UPDATES, "allowed", "the referring organisation")
def _update_request(w: RouteWorld) -> Call:
    url = f"/api/v1/referrals/{w.referral['id']}/update-requests"
    return Call("POST", url, w.h(w.coord), 201, allowed(w.pid), json={})


@case("POST", _UPDATES, "refused", "the receiving organisation: 403")
def _update_request_recipient(w: RouteWorld) -> Call:
    url = f"/api/v1/referrals/{w.referral['id']}/update-requests"
    return Call("POST", url, w.h(w.housing), 403, denied(w.pid), json={})


# -- referrals after sending: amendments and documents on referrals --------------------

_REFERRAL = "/api/v1/referrals/{referral_id}"
_AMEND = {"urgency": "urgent", "change_reason": "Release brought forward"}


def _amend_headers(w: RouteWorld, org: Any) -> dict[str, str]:
    return w.h(org, **{"If-Match": etag_for("r", int(w.referral["version"]))})


@case("PATCH", _REFERRAL, "allowed", "the referrer amends a submitted referral")
def _amend_referral(w: RouteWorld) -> Call:
    url = f"/api/v1/referrals/{w.referral['id']}"
    return Call("PATCH", url, _amend_headers(w, w.coord), 200, allowed(w.pid), json=_AMEND)


@case("PATCH", _REFERRAL, "refused", "an amendment adding a category the recipient may not see")
def _amend_referral_forbidden(w: RouteWorld) -> Call:
    url = f"/api/v1/referrals/{w.referral['id']}"
    body = {"categories": ["identity", "mental_health"], "change_reason": "More to share"}
    return Call("PATCH", url, _amend_headers(w, w.coord), 422, denied(w.pid), json=body)


def _referral_document(w: RouteWorld) -> dict[str, Any]:
    response = w.client.post(
        w.url("/documents"),
        params={"referral_id": w.referral["id"]},
        content=PDF,
        headers=w.h(w.coord),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@case("POST", f"{P}/documents", "allowed", "the referrer attaches a referral letter")
def _upload_to_referral(w: RouteWorld) -> Call:
    return Call(
        "POST",
        w.url("/documents"),
        w.h(w.coord),
        201,
        allowed(w.pid),
        json="Synthetic referral letter",
        params={"referral_id": w.referral["id"]},
    )


@case("POST", f"{P}/documents", "refused", "a care-team member that cannot see the referral")
def _upload_to_referral_cmht(w: RouteWorld) -> Call:
    return Call(
        "POST",
        w.url("/documents"),
        w.h(w.cmht),
        404,
        denied(w.pid),
        json="Synthetic referral letter",
        params={"referral_id": w.referral["id"]},
    )


@case("GET", _CONTENT, "allowed", "the recipient downloads the referral letter")
def _download_referral_document(w: RouteWorld) -> Call:
    url = w.url(f"/documents/{_referral_document(w)['id']}/content")
    return Call("GET", url, w.h(w.housing), 200, allowed(w.pid))


@case("GET", _CONTENT, "refused", "a care-team member that cannot see the referral: 404")
def _download_referral_document_cmht(w: RouteWorld) -> Call:
    url = w.url(f"/documents/{_referral_document(w)['id']}/content")
    return Call("GET", url, w.h(w.cmht), 404, denied(w.pid))
