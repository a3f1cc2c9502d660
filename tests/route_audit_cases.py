"""Audit cases for every route that discloses participant data or refuses access to it.

Each case is one request in a fresh tests/route_world.py world and the access events it
must write: exactly one per participant touched, `allowed` or `denied`, and nothing else.
A list writes one event per participant on the page (not per row). A refusal that touches
no participant (a participant token on a staff-only list) writes none.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from httpx import Response
from sqlmodel import select

from app.core.etags import etag_for
from app.models.audit import AccessEvent
from app.models.organisation import Role
from tests.route_table import P
from tests.route_world import RouteWorld

Kind = Literal["allowed", "refused"]
Expected = dict[uuid.UUID, str]


@dataclass
class Call:
    method: str
    url: str
    headers: dict[str, str]
    status: int
    expect: Expected | Callable[[Response], Expected]
    json: Any = None
    params: dict[str, str] | None = None
    # Further checks on the request's events (beyond one per participant touched).
    check: Callable[[list[AccessEvent]], None] | None = None


@dataclass(frozen=True)
class Case:
    route: tuple[str, str]
    label: str
    kind: Kind
    build: Callable[[RouteWorld], Call]
    xfail: str | None = None
    tags: tuple[str, ...] = field(default=())

    @property
    def id(self) -> str:
        return f"{self.route[0]} {self.route[1]} [{self.kind}: {self.label}]"


CASES: list[Case] = []


def case(
    method: str, path: str, kind: Kind, label: str, xfail: str | None = None
) -> Callable[[Callable[[RouteWorld], Call]], Callable[[RouteWorld], Call]]:
    def register(build: Callable[[RouteWorld], Call]) -> Callable[[RouteWorld], Call]:
        CASES.append(Case((method, path), label, kind, build, xfail))
        return build

    return register


def allowed(*pids: uuid.UUID) -> Expected:
    return {p: "allowed" for p in pids}


def denied(*pids: uuid.UUID) -> Expected:
    return {p: "denied" for p in pids}


# -- reads of one participant's records: the lead organisation, and an organisation for
# which the person does not exist (404) ----------------------------------------------

_READS: dict[str, Callable[[RouteWorld], Any]] = {
    "": lambda w: None,
    "/care-team": lambda w: None,
    "/consents": lambda w: w.consent,
    "/plan": lambda w: w.action,
    "/plan/reviews": lambda w: w.review,
    "/appointments": lambda w: w.appointment,
    "/alerts": lambda w: w.alert,
    "/screenings": lambda w: w.screening,
    "/timeline": lambda w: (w.alert, w.appointment, w.action),
    "/release-readiness": lambda w: w.appointment,
}


def _register_reads() -> None:
    for tail, prepare in _READS.items():

        def lead(w: RouteWorld, tail: str = tail, prepare: Any = prepare) -> Call:
            prepare(w)
            return Call("GET", w.url(tail), w.h(w.coord), 200, allowed(w.pid))

        def stranger(w: RouteWorld, tail: str = tail, prepare: Any = prepare) -> Call:
            prepare(w)
            return Call("GET", w.url(tail), w.h(w.housing), 404, denied(w.pid))

        case("GET", f"{P}{tail}", "allowed", "lead organisation")(lead)
        case("GET", f"{P}{tail}", "refused", "no relationship: 404")(stranger)


_register_reads()


@case("GET", f"{P}/appointments", "refused", "a care-team peer without a protocol: all withheld")
def _peer_reads_appointments(w: RouteWorld) -> Call:
    assert w.appointment
    return Call("GET", w.url("/appointments"), w.h(w.peer), 200, denied(w.pid))


@case("GET", f"{P}/screenings/trend", "allowed", "lead organisation")
def _trend(w: RouteWorld) -> Call:
    assert w.screening
    url = w.url("/screenings/trend")
    return Call("GET", url, w.h(w.coord), 200, allowed(w.pid), params={"instrument": "PHQ-9"})


@case("GET", f"{P}/screenings/trend", "refused", "no relationship: 404")
def _trend_stranger(w: RouteWorld) -> Call:
    url = w.url("/screenings/trend")
    return Call("GET", url, w.h(w.housing), 404, denied(w.pid), params={"instrument": "PHQ-9"})


@case("GET", f"{P}/plan/workbook", "allowed", "the participant themself")
def _workbook(w: RouteWorld) -> Call:
    assert w.action
    return Call("GET", w.url("/plan/workbook"), w.me(), 200, allowed(w.pid))


@case("GET", f"{P}/plan/workbook", "refused", "another participant: 404")
def _workbook_other(w: RouteWorld) -> Call:
    return Call("GET", w.url("/plan/workbook"), w.me(w.pid2), 404, denied(w.pid))


@case("GET", f"{P}/plan/versions/{{version}}", "allowed", "lead organisation")
def _version(w: RouteWorld) -> Call:
    url = w.url(f"/plan/versions/{w.review['plan_version']}")
    return Call("GET", url, w.h(w.coord), 200, allowed(w.pid))


@case("GET", f"{P}/plan/versions/{{version}}", "refused", "no relationship: 404")
def _version_stranger(w: RouteWorld) -> Call:
    url = w.url(f"/plan/versions/{w.review['plan_version']}")
    return Call("GET", url, w.h(w.housing), 404, denied(w.pid))


@case("GET", f"{P}/access", "allowed", "lead organisation")
def _access(w: RouteWorld) -> Call:
    return Call("GET", w.url("/access"), w.h(w.cmht), 200, allowed(w.pid))


@case("GET", f"{P}/access", "refused", "no relationship: 404")
def _access_stranger(w: RouteWorld) -> Call:
    return Call("GET", w.url("/access"), w.h(w.housing), 404, denied(w.pid))


@case("GET", f"{P}/disclosures", "allowed", "the participant themself")
def _disclosures(w: RouteWorld) -> Call:
    return Call("GET", w.url("/disclosures"), w.me(), 200, allowed(w.pid))


@case("GET", f"{P}/disclosures", "allowed", "the lead organisation's administrator")
def _disclosures_admin(w: RouteWorld) -> Call:
    return Call("GET", w.url("/disclosures"), w.h(w.coord, Role.org_admin), 200, allowed(w.pid))


@case("GET", f"{P}/disclosures", "refused", "no relationship: 404")
def _disclosures_stranger(w: RouteWorld) -> Call:
    return Call("GET", w.url("/disclosures"), w.h(w.housing), 404, denied(w.pid))


@case(
    "GET",
    f"{P}/disclosures",
    "refused",
    "a supervisor who is not the lead practitioner: 403",
)
def _disclosures_supervisor(w: RouteWorld) -> Call:
    return Call("GET", w.url("/disclosures"), w.h(w.coord, Role.supervisor), 403, denied(w.pid))


@case(
    "GET",
    f"{P}/disclosures",
    "refused",
    "a partner organisation: 403",
)
def _disclosures_partner(w: RouteWorld) -> Call:
    return Call("GET", w.url("/disclosures"), w.h(w.cmht), 403, denied(w.pid))


# -- participants --------------------------------------------------------------------


@case("GET", "/api/v1/participants", "allowed", "lead of two: one event each")
def _list_participants(w: RouteWorld) -> Call:
    return Call("GET", "/api/v1/participants", w.h(w.coord), 200, allowed(w.pid, w.pid2))


@case("GET", "/api/v1/participants", "refused", "no relationship: an empty page, no event")
def _list_participants_stranger(w: RouteWorld) -> Call:
    return Call("GET", "/api/v1/participants", w.h(w.housing), 200, {})


NEW_PERSON = {"given_name": "Jo", "family_name": "Synthetic", "phone": "07700 900777"}


def _created(response: Response) -> Expected:
    return allowed(uuid.UUID(response.json()["id"]))


@case("POST", "/api/v1/participants", "allowed", "a practitioner registers")
def _register(w: RouteWorld) -> Call:
    return Call("POST", "/api/v1/participants", w.h(w.coord), 201, _created, json=NEW_PERSON)


@case("POST", "/api/v1/participants", "refused", "a participant token: 403, nobody touched")
def _register_participant(w: RouteWorld) -> Call:
    return Call("POST", "/api/v1/participants", w.me(), 403, {}, json=NEW_PERSON)


@case(
    "POST",
    "/api/v1/participants",
    "allowed",
    "an Idempotency-Key replay records what it returns",
)
def _register_replay(w: RouteWorld) -> Call:
    headers = w.h(w.coord, **{"Idempotency-Key": uuid.uuid4().hex})
    first_id = uuid.uuid4().hex
    first = w.client.post(
        "/api/v1/participants", json=NEW_PERSON, headers={**headers, "X-Request-ID": first_id}
    )
    assert first.status_code == 201, first.text
    [original] = w.db.exec(select(AccessEvent).where(AccessEvent.request_id == first_id)).all()

    def same_categories(events: list[AccessEvent]) -> None:
        replayed = [e.categories for e in events]
        assert replayed == [original.categories], f"replay recorded {replayed}"

    return Call(
        "POST",
        "/api/v1/participants",
        headers,
        201,
        _created,
        json=NEW_PERSON,
        check=same_categories,
    )


def _participant_etag(w: RouteWorld) -> str:
    return str(w.client.get(w.url(), headers=w.h(w.coord)).headers["ETag"])


@case(
    "POST",
    "/api/v1/participants",
    "refused",
    "an identifier of someone the caller cannot see: 409",
)
def _register_known_identifier(w: RouteWorld) -> Call:
    w.care.participant.prison_number = "A7654ZZ"
    w.db.add(w.care.participant)
    w.db.commit()
    body = {**NEW_PERSON, "prison_number": "A7654ZZ"}
    return Call("POST", "/api/v1/participants", w.h(w.housing), 409, {w.pid: "any"}, json=body)


@case("PATCH", P, "allowed", "lead organisation")
def _patch(w: RouteWorld) -> Call:
    headers = w.h(w.coord, **{"If-Match": _participant_etag(w)})
    return Call("PATCH", w.url(), headers, 200, allowed(w.pid), json={"preferred_name": "Sammy"})


@case("PATCH", P, "refused", "no relationship: 404")
def _patch_stranger(w: RouteWorld) -> Call:
    headers = w.h(w.housing, **{"If-Match": _participant_etag(w)})
    return Call("PATCH", w.url(), headers, 404, denied(w.pid), json={"preferred_name": "X"})


@case("PATCH", P, "refused", "a contributor changing identity: 403")
def _patch_rule(w: RouteWorld) -> Call:
    headers = w.h(w.cmht, **{"If-Match": _participant_etag(w)})
    return Call("PATCH", w.url(), headers, 403, denied(w.pid), json={"given_name": "Changed"})


# -- care team and consent -----------------------------------------------------------


@case("POST", f"{P}/care-team", "allowed", "lead organisation adds housing")
def _add_member(w: RouteWorld) -> Call:
    body = {"organisation_id": str(w.housing.id)}
    return Call("POST", w.url("/care-team"), w.h(w.coord), 201, allowed(w.pid), json=body)


@case("POST", f"{P}/care-team", "refused", "no relationship: 404")
def _add_member_stranger(w: RouteWorld) -> Call:
    body = {"organisation_id": str(w.housing.id)}
    return Call("POST", w.url("/care-team"), w.h(w.housing), 404, denied(w.pid), json=body)


@case("POST", f"{P}/care-team", "refused", "a contributor: 403")
def _add_member_rule(w: RouteWorld) -> Call:
    body = {"organisation_id": str(w.housing.id)}
    return Call("POST", w.url("/care-team"), w.h(w.cmht), 403, denied(w.pid), json=body)


_END = f"{P}/care-team/{{member_id}}"


@case("DELETE", _END, "allowed", "lead organisation ends a membership")
def _end_member(w: RouteWorld) -> Call:
    url = w.url(f"/care-team/{w.cmht_member_id}")
    return Call("DELETE", url, w.h(w.coord), 200, allowed(w.pid))


@case("DELETE", _END, "refused", "no relationship: 404")
def _end_member_stranger(w: RouteWorld) -> Call:
    url = w.url(f"/care-team/{w.cmht_member_id}")
    return Call("DELETE", url, w.h(w.housing), 404, denied(w.pid))


@case("DELETE", _END, "refused", "a peer: 403")
def _end_member_rule(w: RouteWorld) -> Call:
    url = w.url(f"/care-team/{w.cmht_member_id}")
    return Call("DELETE", url, w.h(w.peer), 403, denied(w.pid))


CONSENT = {
    "categories": ["risk"],
    "recipient_org_kinds": ["community_mental_health"],
    "purposes": ["direct_care"],
    "method": "verbal",
}


@case("POST", f"{P}/consents", "allowed", "lead organisation records consent")
def _consent(w: RouteWorld) -> Call:
    return Call("POST", w.url("/consents"), w.h(w.coord), 201, allowed(w.pid), json=CONSENT)


@case("POST", f"{P}/consents", "refused", "no relationship: 404")
def _consent_stranger(w: RouteWorld) -> Call:
    return Call("POST", w.url("/consents"), w.h(w.housing), 404, denied(w.pid), json=CONSENT)


@case("POST", f"{P}/consents", "refused", "a referral addressee off the care team: 403")
def _consent_rule(w: RouteWorld) -> Call:
    assert w.referral
    return Call("POST", w.url("/consents"), w.h(w.housing), 403, denied(w.pid), json=CONSENT)


_WITHDRAW = f"{P}/consents/{{consent_id}}/withdraw"
WITHDRAWAL = {"reason": "Changed my mind"}


@case("POST", _WITHDRAW, "allowed", "lead organisation")
def _withdraw(w: RouteWorld) -> Call:
    url = w.url(f"/consents/{w.consent['id']}/withdraw")
    return Call("POST", url, w.h(w.coord), 200, allowed(w.pid), json=WITHDRAWAL)


@case("POST", _WITHDRAW, "refused", "no relationship: 404")
def _withdraw_stranger(w: RouteWorld) -> Call:
    url = w.url(f"/consents/{w.consent['id']}/withdraw")
    return Call("POST", url, w.h(w.housing), 404, denied(w.pid), json=WITHDRAWAL)


@case(
    "POST",
    _WITHDRAW,
    "refused",
    "a referral addressee off the care team: 403",
)
def _withdraw_rule(w: RouteWorld) -> Call:
    assert w.referral
    url = w.url(f"/consents/{w.consent['id']}/withdraw")
    return Call("POST", url, w.h(w.housing), 403, denied(w.pid), json=WITHDRAWAL)


# -- break-glass and notices ---------------------------------------------------------

BREAK_GLASS = {
    "reason_code": "risk_to_life",
    "justification": "Synthetic emergency: risk to life, and no way to ask the person for consent.",
    "categories": ["risk"],
}


@case("POST", f"{P}/break-glass", "allowed", "a care-team practitioner")
def _break_glass(w: RouteWorld) -> Call:
    url = w.url("/break-glass")
    return Call("POST", url, w.h(w.cmht), 201, allowed(w.pid), json=BREAK_GLASS)


@case("POST", f"{P}/break-glass", "refused", "no relationship: 404")
def _break_glass_stranger(w: RouteWorld) -> Call:
    url = w.url("/break-glass")
    return Call("POST", url, w.h(w.housing), 404, denied(w.pid), json=BREAK_GLASS)


@case("POST", f"{P}/break-glass", "refused", "a partner system: 403")
def _break_glass_rule(w: RouteWorld) -> Call:
    url = w.url("/break-glass")
    headers = w.partner(w.cmht, "break_glass")
    return Call("POST", url, headers, 403, denied(w.pid), json=BREAK_GLASS)


@case("GET", "/api/v1/break-glass", "allowed", "the lead's supervisor: one event per person")
def _queue(w: RouteWorld) -> Call:
    assert w.grants
    headers = w.h(w.coord, Role.supervisor)
    return Call("GET", "/api/v1/break-glass", headers, 200, allowed(w.pid, w.pid2))


@case("GET", "/api/v1/break-glass", "refused", "a practitioner: 403, nobody touched")
def _queue_rule(w: RouteWorld) -> Call:
    assert w.grants
    return Call("GET", "/api/v1/break-glass", w.h(w.coord), 403, {})


@case("GET", "/api/v1/break-glass", "refused", "another organisation: an empty page")
def _queue_stranger(w: RouteWorld) -> Call:
    assert w.grants
    return Call("GET", "/api/v1/break-glass", w.h(w.housing, Role.supervisor), 200, {})


_REVIEW = "/api/v1/break-glass/{grant_id}/review"
REVIEW = {"outcome": "justified", "note": "Synthetic review"}


@case("POST", _REVIEW, "allowed", "the lead's supervisor")
def _review(w: RouteWorld) -> Call:
    url = f"/api/v1/break-glass/{w.grants[0]['id']}/review"
    return Call("POST", url, w.h(w.coord, Role.supervisor), 200, allowed(w.pid), json=REVIEW)


@case(
    "POST",
    _REVIEW,
    "refused",
    "an unrelated supervisor: 404",
)
def _review_stranger(w: RouteWorld) -> Call:
    url = f"/api/v1/break-glass/{w.grants[0]['id']}/review"
    headers = w.h(w.housing, Role.supervisor)
    return Call("POST", url, headers, 404, denied(w.pid), json=REVIEW)


@case("POST", _REVIEW, "refused", "reviewing one's own grant: 403")
def _review_own(w: RouteWorld) -> Call:
    supervisor = w.h(w.cmht, Role.supervisor)
    grant = w.break_glass(w.pid, supervisor)
    url = f"/api/v1/break-glass/{grant['id']}/review"
    return Call("POST", url, supervisor, 403, denied(w.pid), json=REVIEW)


@case(
    "GET",
    "/api/v1/notices",
    "allowed",
    "the lead organisation: one event per person",
)
def _notices(w: RouteWorld) -> Call:
    assert w.grants
    return Call("GET", "/api/v1/notices", w.h(w.coord), 200, allowed(w.pid, w.pid2))


@case("GET", "/api/v1/notices", "refused", "a participant token: 403, nobody touched")
def _notices_participant(w: RouteWorld) -> Call:
    assert w.grants
    return Call("GET", "/api/v1/notices", w.me(), 403, {})


_ACK = "/api/v1/notices/{notice_id}/acknowledge"


@case(
    "POST",
    _ACK,
    "allowed",
    "the addressee",
)
def _ack(w: RouteWorld) -> Call:
    url = f"/api/v1/notices/{w.notice.id}/acknowledge"
    return Call("POST", url, w.h(w.coord), 200, allowed(w.pid))


@case(
    "POST",
    _ACK,
    "refused",
    "another organisation: 404",
)
def _ack_stranger(w: RouteWorld) -> Call:
    url = f"/api/v1/notices/{w.notice.id}/acknowledge"
    return Call("POST", url, w.h(w.cmht), 404, denied(w.pid))


# -- the plan ------------------------------------------------------------------------

GOAL = {
    "title": "Reconnect with family",
    "horizon": "long_term_maintenance",
    "life_domain": "relationships",
}


@case("POST", f"{P}/plan/goals", "allowed", "lead organisation")
def _goal(w: RouteWorld) -> Call:
    return Call("POST", w.url("/plan/goals"), w.h(w.coord), 201, allowed(w.pid), json=GOAL)


@case("POST", f"{P}/plan/goals", "refused", "no relationship: 404")
def _goal_stranger(w: RouteWorld) -> Call:
    return Call("POST", w.url("/plan/goals"), w.h(w.housing), 404, denied(w.pid), json=GOAL)


@case("POST", f"{P}/plan/goals", "refused", "a peer: 403")
def _goal_rule(w: RouteWorld) -> Call:
    assert w.goal
    return Call("POST", w.url("/plan/goals"), w.h(w.peer), 403, denied(w.pid), json=GOAL)


_GOAL = f"{P}/plan/goals/{{goal_id}}"


@case("PATCH", _GOAL, "allowed", "lead organisation")
def _patch_goal(w: RouteWorld) -> Call:
    url, headers = (
        w.url(f"/plan/goals/{w.goal['id']}"),
        w.h(w.coord, **{"If-Match": w.goal["etag"]}),
    )
    return Call("PATCH", url, headers, 200, allowed(w.pid), json={"priority": 1})


@case("PATCH", _GOAL, "refused", "no relationship: 404")
def _patch_goal_stranger(w: RouteWorld) -> Call:
    url = w.url(f"/plan/goals/{w.goal['id']}")
    headers = w.h(w.housing, **{"If-Match": w.goal["etag"]})
    return Call("PATCH", url, headers, 404, denied(w.pid), json={"priority": 1})


@case("PATCH", _GOAL, "refused", "a peer: 403")
def _patch_goal_rule(w: RouteWorld) -> Call:
    url, headers = w.url(f"/plan/goals/{w.goal['id']}"), w.h(w.peer, **{"If-Match": w.goal["etag"]})
    return Call("PATCH", url, headers, 403, denied(w.pid), json={"priority": 1})


def _step(w: RouteWorld) -> dict[str, Any]:
    return {
        "goal_id": w.goal["id"],
        "description": "Call the family liaison",
        "owner_kind": "practitioner",
        "owner_org_id": str(w.coord.id),
    }


@case("POST", f"{P}/plan/actions", "allowed", "lead organisation")
def _add_step(w: RouteWorld) -> Call:
    return Call("POST", w.url("/plan/actions"), w.h(w.coord), 201, allowed(w.pid), json=_step(w))


@case("POST", f"{P}/plan/actions", "refused", "no relationship: 404")
def _add_step_stranger(w: RouteWorld) -> Call:
    url = w.url("/plan/actions")
    return Call("POST", url, w.h(w.housing), 404, denied(w.pid), json=_step(w))


@case("POST", f"{P}/plan/actions", "refused", "a peer: 403")
def _add_step_rule(w: RouteWorld) -> Call:
    return Call("POST", w.url("/plan/actions"), w.h(w.peer), 403, denied(w.pid), json=_step(w))


_ACTION = f"{P}/plan/actions/{{action_id}}"


@case("PATCH", _ACTION, "allowed", "lead organisation")
def _patch_step(w: RouteWorld) -> Call:
    url = w.url(f"/plan/actions/{w.action['id']}")
    headers = w.h(w.coord, **{"If-Match": w.action["etag"]})
    return Call("PATCH", url, headers, 200, allowed(w.pid), json={"status": "done"})


@case("PATCH", _ACTION, "allowed", "the participant records their own step")
def _patch_step_owner(w: RouteWorld) -> Call:
    url = w.url(f"/plan/actions/{w.action['id']}")
    headers = {**w.me(), "If-Match": w.action["etag"]}
    return Call("PATCH", url, headers, 200, allowed(w.pid), json={"status": "done"})


@case("PATCH", _ACTION, "refused", "no relationship: 404")
def _patch_step_stranger(w: RouteWorld) -> Call:
    url = w.url(f"/plan/actions/{w.action['id']}")
    headers = w.h(w.housing, **{"If-Match": w.action["etag"]})
    return Call("PATCH", url, headers, 404, denied(w.pid), json={"status": "done"})


@case("PATCH", _ACTION, "refused", "a peer that does not own the step: 403")
def _patch_step_rule(w: RouteWorld) -> Call:
    url = w.url(f"/plan/actions/{w.action['id']}")
    headers = w.h(w.peer, **{"If-Match": w.action["etag"]})
    return Call("PATCH", url, headers, 403, denied(w.pid), json={"status": "done"})


REVIEW_MEETING = {"held_on": "2030-01-05"}


@case("POST", f"{P}/plan/reviews", "allowed", "lead organisation")
def _add_review(w: RouteWorld) -> Call:
    assert w.goal
    url = w.url("/plan/reviews")
    return Call("POST", url, w.h(w.coord), 201, allowed(w.pid), json=REVIEW_MEETING)


@case("POST", f"{P}/plan/reviews", "refused", "no relationship: 404")
def _add_review_stranger(w: RouteWorld) -> Call:
    assert w.goal
    url = w.url("/plan/reviews")
    return Call("POST", url, w.h(w.housing), 404, denied(w.pid), json=REVIEW_MEETING)


@case("POST", f"{P}/plan/reviews", "refused", "a peer: 403")
def _add_review_rule(w: RouteWorld) -> Call:
    assert w.goal
    url = w.url("/plan/reviews")
    return Call("POST", url, w.h(w.peer), 403, denied(w.pid), json=REVIEW_MEETING)


# -- appointments, risk, screenings --------------------------------------------------


def _slot(hours: float = 30) -> dict[str, str]:
    from datetime import UTC, datetime, timedelta

    start = datetime.now(UTC) + timedelta(hours=hours)
    end = start + timedelta(hours=1)
    return {"kind": "clinic", "starts_at": start.isoformat(), "ends_at": end.isoformat()}


@case("POST", f"{P}/appointments", "allowed", "lead organisation")
def _book(w: RouteWorld) -> Call:
    return Call("POST", w.url("/appointments"), w.h(w.coord), 201, allowed(w.pid), json=_slot())


@case("POST", f"{P}/appointments", "refused", "no relationship: 404")
def _book_stranger(w: RouteWorld) -> Call:
    url = w.url("/appointments")
    return Call("POST", url, w.h(w.housing), 404, denied(w.pid), json=_slot())


_APPOINTMENT = f"{P}/appointments/{{appointment_id}}"


def _appointment_url(w: RouteWorld) -> str:
    return w.url(f"/appointments/{w.appointment['id']}")


@case("PATCH", _APPOINTMENT, "allowed", "the booking organisation")
def _move(w: RouteWorld) -> Call:
    url = _appointment_url(w)
    return Call("PATCH", url, w.h(w.coord), 200, allowed(w.pid), json={"place": "Room 2"})


@case("PATCH", _APPOINTMENT, "refused", "no relationship: 404")
def _move_stranger(w: RouteWorld) -> Call:
    url = _appointment_url(w)
    return Call("PATCH", url, w.h(w.housing), 404, denied(w.pid), json={"place": "Room 2"})


@case(
    "PATCH",
    _APPOINTMENT,
    "refused",
    "a contributor that neither booked nor hosts: 403",
)
def _move_rule(w: RouteWorld) -> Call:
    url = _appointment_url(w)
    return Call("PATCH", url, w.h(w.cmht), 403, denied(w.pid), json={"place": "Room 2"})


@case(
    "GET",
    "/api/v1/appointments/reminders",
    "allowed",
    "the booking organisation: one event per person",
)
def _reminders(w: RouteWorld) -> Call:
    w.book(w.pid, 20)
    w.book(w.pid, 30)
    w.book(w.pid2, 25)
    url = "/api/v1/appointments/reminders"
    return Call("GET", url, w.h(w.coord), 200, allowed(w.pid, w.pid2))


@case(
    "GET", "/api/v1/appointments/reminders", "refused", "a participant token: 403, nobody touched"
)
def _reminders_participant(w: RouteWorld) -> Call:
    assert w.appointment
    return Call("GET", "/api/v1/appointments/reminders", w.me(), 403, {})


@case(
    "GET",
    "/api/v1/appointments/missed",
    "allowed",
    "the booking organisation: one event per person",
)
def _missed(w: RouteWorld) -> Call:
    w.missed(w.pid, 2)
    w.missed(w.pid, 3)
    w.missed(w.pid2, 4)
    return Call("GET", "/api/v1/appointments/missed", w.h(w.coord), 200, allowed(w.pid, w.pid2))


@case("GET", "/api/v1/appointments/missed", "refused", "another organisation: an empty page")
def _missed_stranger(w: RouteWorld) -> Call:
    w.missed(w.pid, 2)
    return Call("GET", "/api/v1/appointments/missed", w.h(w.housing), 200, {})


ALERT = {"kind": "self_harm", "level": "high", "notes": "Synthetic note"}


@case("POST", f"{P}/alerts", "allowed", "lead organisation")
def _raise(w: RouteWorld) -> Call:
    return Call("POST", w.url("/alerts"), w.h(w.coord), 201, allowed(w.pid), json=ALERT)


@case("POST", f"{P}/alerts", "refused", "no relationship: 404")
def _raise_stranger(w: RouteWorld) -> Call:
    return Call("POST", w.url("/alerts"), w.h(w.housing), 404, denied(w.pid), json=ALERT)


_CLOSE = f"{P}/alerts/{{alert_id}}/close"


@case("POST", _CLOSE, "allowed", "the raising organisation")
def _close(w: RouteWorld) -> Call:
    url = w.url(f"/alerts/{w.alert['id']}/close")
    return Call("POST", url, w.h(w.coord), 200, allowed(w.pid), json={"reason": "Settled"})


@case("POST", _CLOSE, "refused", "no relationship: 404")
def _close_stranger(w: RouteWorld) -> Call:
    url = w.url(f"/alerts/{w.alert['id']}/close")
    return Call("POST", url, w.h(w.housing), 404, denied(w.pid), json={"reason": "Settled"})


SCREENING = {"instrument": "GAD-7", "responses": [1, 1, 1, 1, 1, 1, 1]}


@case("POST", f"{P}/screenings", "allowed", "lead organisation")
def _screen(w: RouteWorld) -> Call:
    return Call("POST", w.url("/screenings"), w.h(w.coord), 201, allowed(w.pid), json=SCREENING)


@case("POST", f"{P}/screenings", "refused", "no relationship: 404")
def _screen_stranger(w: RouteWorld) -> Call:
    url = w.url("/screenings")
    return Call("POST", url, w.h(w.housing), 404, denied(w.pid), json=SCREENING)


# -- referrals and release -----------------------------------------------------------

REFERRALS = "/api/v1/referrals"


@case("GET", REFERRALS, "allowed", "the referrer's outbox: one event per person")
def _outbox(w: RouteWorld) -> Call:
    w.refer(pid=w.pid)
    w.refer(pid=w.pid)
    w.refer(pid=w.pid2)
    params = {"box": "outbox"}
    return Call("GET", REFERRALS, w.h(w.coord), 200, allowed(w.pid, w.pid2), params=params)


@case("GET", REFERRALS, "allowed", "the recipient's inbox")
def _inbox(w: RouteWorld) -> Call:
    assert w.referral
    return Call("GET", REFERRALS, w.h(w.housing), 200, allowed(w.pid), params={"box": "inbox"})


@case("GET", REFERRALS, "refused", "an organisation that is no party: an empty page")
def _inbox_stranger(w: RouteWorld) -> Call:
    assert w.referral
    return Call("GET", REFERRALS, w.h(w.cmht), 200, {}, params={"box": "inbox"})


def _referral_body(w: RouteWorld) -> dict[str, Any]:
    return {
        "participant_id": str(w.pid),
        "to_org_id": str(w.housing.id),
        "reason": "Needs supported accommodation on release.",
        "categories": ["identity"],
    }


@case("POST", REFERRALS, "allowed", "the lead organisation refers")
def _refer(w: RouteWorld) -> Call:
    return Call("POST", REFERRALS, w.h(w.coord), 201, allowed(w.pid), json=_referral_body(w))


@case("POST", REFERRALS, "refused", "no relationship: 404")
def _refer_stranger(w: RouteWorld) -> Call:
    return Call("POST", REFERRALS, w.h(w.housing), 404, denied(w.pid), json=_referral_body(w))


@case("POST", REFERRALS, "refused", "submitted with a category the recipient may not receive: 422")
def _refer_unreceivable(w: RouteWorld) -> Call:
    body = _referral_body(w) | {"categories": ["identity", "mental_health"], "submit": True}
    return Call("POST", REFERRALS, w.h(w.coord), 422, denied(w.pid), json=body)


@case("POST", REFERRALS, "allowed", "an Idempotency-Key replay")
def _refer_replay(w: RouteWorld) -> Call:
    headers = w.h(w.coord, **{"Idempotency-Key": uuid.uuid4().hex})
    first = w.client.post(REFERRALS, json=_referral_body(w), headers=headers)
    assert first.status_code == 201, first.text
    return Call("POST", REFERRALS, headers, 201, allowed(w.pid), json=_referral_body(w))


_REFERRAL = "/api/v1/referrals/{referral_id}"


@case("GET", _REFERRAL, "allowed", "the recipient")
def _read_referral(w: RouteWorld) -> Call:
    return Call("GET", f"{REFERRALS}/{w.referral['id']}", w.h(w.housing), 200, allowed(w.pid))


@case("GET", _REFERRAL, "refused", "an organisation that is no party: 404")
def _read_referral_stranger(w: RouteWorld) -> Call:
    return Call("GET", f"{REFERRALS}/{w.referral['id']}", w.h(w.cmht), 404, denied(w.pid))


def _draft_headers(w: RouteWorld, org: Any) -> dict[str, str]:
    return w.h(org, **{"If-Match": etag_for("r", int(w.draft["version"]))})


@case("PATCH", _REFERRAL, "allowed", "the referrer changes its draft")
def _patch_referral(w: RouteWorld) -> Call:
    url, headers = f"{REFERRALS}/{w.draft['id']}", _draft_headers(w, w.coord)
    return Call("PATCH", url, headers, 200, allowed(w.pid), json={"urgency": "urgent"})


@case("PATCH", _REFERRAL, "refused", "an organisation that is no party: 404")
def _patch_referral_stranger(w: RouteWorld) -> Call:
    url, headers = f"{REFERRALS}/{w.draft['id']}", _draft_headers(w, w.cmht)
    return Call("PATCH", url, headers, 404, denied(w.pid), json={"urgency": "urgent"})


@case("PATCH", _REFERRAL, "refused", "the recipient: 403")
def _patch_referral_rule(w: RouteWorld) -> Call:
    referral = w.referral
    url = f"{REFERRALS}/{referral['id']}"
    headers = w.h(w.housing, **{"If-Match": etag_for("r", int(referral["version"]))})
    return Call("PATCH", url, headers, 403, denied(w.pid), json={"urgency": "urgent"})


@case("PATCH", _REFERRAL, "refused", "an amendment adding a category the recipient may not receive")
def _amend_unreceivable(w: RouteWorld) -> Call:
    referral = w.referral
    url = f"{REFERRALS}/{referral['id']}"
    headers = w.h(w.coord, **{"If-Match": etag_for("r", int(referral["version"]))})
    body = {"categories": ["identity", "mental_health"], "change_reason": "Asked"}
    return Call("PATCH", url, headers, 422, denied(w.pid), json=body)


_ACT = "/api/v1/referrals/{referral_id}/{action}"


@case("POST", _ACT, "allowed", "the recipient accepts")
def _accept(w: RouteWorld) -> Call:
    url = f"{REFERRALS}/{w.referral['id']}/accept"
    return Call("POST", url, w.h(w.housing), 200, allowed(w.pid))


@case("POST", _ACT, "refused", "an organisation that is no party: 404")
def _accept_stranger(w: RouteWorld) -> Call:
    url = f"{REFERRALS}/{w.referral['id']}/accept"
    return Call("POST", url, w.h(w.cmht), 404, denied(w.pid))


@case("POST", _ACT, "refused", "the referrer accepting its own referral: 403")
def _accept_rule(w: RouteWorld) -> Call:
    url = f"{REFERRALS}/{w.referral['id']}/accept"
    return Call("POST", url, w.h(w.coord), 403, denied(w.pid))


@case("POST", _ACT, "refused", "submitting a draft whose category the recipient may not receive")
def _submit_unreceivable(w: RouteWorld) -> Call:
    draft = w.make(
        "POST",
        REFERRALS,
        _referral_body(w) | {"categories": ["identity", "mental_health"]},
    )
    return Call("POST", f"{REFERRALS}/{draft['id']}/submit", w.h(w.coord), 422, denied(w.pid))


RELEASES = "/api/v1/caseload/releases"


@case("GET", RELEASES, "allowed", "the lead organisation: one event per person")
def _releases(w: RouteWorld) -> Call:
    return Call("GET", RELEASES, w.h(w.coord), 200, allowed(w.pid, w.pid2))


@case("GET", RELEASES, "refused", "no relationship: an empty page")
def _releases_stranger(w: RouteWorld) -> Call:
    return Call("GET", RELEASES, w.h(w.housing), 200, {})


# -- a page of one: only the participant on the page is touched -----------------------


def _on_page(key: str) -> Callable[[Response], Expected]:
    def expect(response: Response) -> Expected:
        items = response.json()["items"]
        assert len(items) == 1, items
        return allowed(uuid.UUID(items[0][key]))

    return expect


_FIRST = {"limit": "1"}


@case("GET", "/api/v1/participants", "allowed", "a page of one")
def _participants_page(w: RouteWorld) -> Call:
    url = "/api/v1/participants"
    return Call("GET", url, w.h(w.coord), 200, _on_page("id"), params=_FIRST)


@case("GET", RELEASES, "allowed", "a page of one")
def _releases_page(w: RouteWorld) -> Call:
    return Call("GET", RELEASES, w.h(w.coord), 200, _on_page("participant_id"), params=_FIRST)


@case("GET", "/api/v1/break-glass", "allowed", "a page of one")
def _queue_page(w: RouteWorld) -> Call:
    assert w.grants
    headers = w.h(w.coord, Role.supervisor)
    url = "/api/v1/break-glass"
    return Call("GET", url, headers, 200, _on_page("participant_id"), params=_FIRST)


@case("GET", "/api/v1/appointments/reminders", "allowed", "a page of one")
def _reminders_page(w: RouteWorld) -> Call:
    w.book(w.pid, 20)
    w.book(w.pid2, 25)
    url = "/api/v1/appointments/reminders"
    return Call("GET", url, w.h(w.coord), 200, _on_page("participant_id"), params=_FIRST)


@case("GET", REFERRALS, "allowed", "a page of one")
def _outbox_page(w: RouteWorld) -> Call:
    w.refer(pid=w.pid)
    w.refer(pid=w.pid2)
    params = {"box": "outbox", **_FIRST}
    return Call("GET", REFERRALS, w.h(w.coord), 200, _on_page("participant_id"), params=params)


@case("GET", "/api/v1/participants", "refused", "a phase filter on withheld custody: no event")
def _participants_phase(w: RouteWorld) -> Call:
    params = {"phase": "in_prison"}
    return Call("GET", "/api/v1/participants", w.h(w.cmht), 200, {}, params=params)


# -- the event feed (issue 11) --------------------------------------------------------


def _feed_people(response: Response) -> Expected:
    assert response.json()["items"], "the case must show at least one event"
    return allowed(*{uuid.UUID(e["data"]["participant_id"]) for e in response.json()["items"]})


@case("GET", "/api/v1/events", "allowed", "the lead's system: one event per person on the page")
def _events_feed(w: RouteWorld) -> Call:
    w.appointment  # booked through the API: its event is in the outbox
    return Call("GET", "/api/v1/events", w.partner(w.coord, "events:read"), 200, _feed_people)


@case("GET", "/api/v1/events", "refused", "a practitioner token: 403, nobody touched")
def _events_feed_practitioner(w: RouteWorld) -> Call:
    w.appointment
    return Call("GET", "/api/v1/events", w.h(w.coord), 403, {})


@case("GET", f"{P}/consents/{{consent_id}}/notices", "allowed", "the lead organisation")
def _consent_notices(w: RouteWorld) -> Call:
    url = w.url(f"/consents/{w.consent['id']}/notices")
    return Call("GET", url, w.h(w.coord), 200, allowed(w.pid))


@case("GET", f"{P}/consents/{{consent_id}}/notices", "refused", "no relationship: 404")
def _consent_notices_stranger(w: RouteWorld) -> Call:
    url = w.url(f"/consents/{w.consent['id']}/notices")
    return Call("GET", url, w.h(w.housing), 404, denied(w.pid))


# -- prison movements (issue 11) -------------------------------------------------------


def _prison_system(w: RouteWorld) -> dict[str, str]:
    """A prison healthcare system on the first participant's care team; they get a number."""
    from app.models.organisation import OrgKind
    from app.models.participant import CareRole, CareTeamMember, Participant

    prison = w.world.org("Prison health", OrgKind.prison_healthcare)
    person = w.db.get(Participant, w.pid)
    assert person is not None
    person.prison_number = "A7777ZZ"
    w.db.add(person)
    w.db.add(
        CareTeamMember(
            participant_id=w.pid,
            organisation_id=prison.id,
            role=CareRole.contributor,
            source_org_id=prison.id,
            added_by="test",
        )
    )
    return w.partner(prison, "movements:write")


def _movement(number: str) -> dict[str, str]:
    return {
        "event_id": f"mv-{uuid.uuid4().hex[:8]}",
        "kind": "transferred",
        "prison_number": number,
        "occurred_at": "2026-11-30T10:00:00+00:00",
        "establishment": "HMP Southtown",
    }


@case("POST", "/api/v1/movements", "allowed", "the prison's system, a person it cares for")
def _movement_allowed(w: RouteWorld) -> Call:
    headers = _prison_system(w)
    return Call(
        "POST", "/api/v1/movements", headers, 201, allowed(w.pid), json=_movement("A7777ZZ")
    )


@case("POST", "/api/v1/movements", "refused", "a housing system: 403, nobody touched")
def _movement_refused(w: RouteWorld) -> Call:
    _prison_system(w)
    headers = w.partner(w.housing, "movements:write")
    return Call("POST", "/api/v1/movements", headers, 403, {}, json=_movement("A7777ZZ"))


@case("GET", f"{P}/fhir", "allowed", "the lead organisation: one export event")
def _fhir(w: RouteWorld) -> Call:
    w.appointment
    return Call("GET", w.url("/fhir"), w.h(w.coord), 200, allowed(w.pid))


@case("GET", f"{P}/fhir", "refused", "no relationship: 404")
def _fhir_stranger(w: RouteWorld) -> Call:
    return Call("GET", w.url("/fhir"), w.h(w.housing), 404, denied(w.pid))


# Registers the governance routes' cases (issue 14).
import tests.route_audit_cases_governance  # noqa: E402

# Cases of the continuity routes (issue 13) register themselves on import.
import tests.route_audit_continuity  # noqa: E402, F401
