"""Hand-written cases of the sharing decision, through the API (DESIGN.md, six rules).

Each case states its expectation by hand (not via the oracle) and checks the response,
the `withheld` list and the audit rows of the request.
"""

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.break_glass import BreakGlassGrant
from tests.fixtures import World
from tests.sharing.harness import (
    API,
    JUSTIFICATION,
    Actor,
    Built,
    ParticipantFacts,
    add_consent,
    add_membership,
    add_protocol,
    add_referral,
    break_glass,
    disclosed_categories,
    end_lead_membership,
    events_for,
    register,
    utc_now,
)

ALL_RECORD = {"identity", "contact", "protected_characteristics", "custody", "plan"}
FIELDS = {"phone", "gender", "establishment", "intervention_start", "email"}
TODAY = date.today()


class Read:
    """One GET of a participant, with its audit rows."""

    def __init__(
        self,
        client: TestClient,
        session: Session,
        headers: dict[str, str],
        p: ParticipantFacts,
        purpose: str | None = None,
    ) -> None:
        self.request_id = uuid.uuid4().hex
        h = {**headers, "X-Request-ID": self.request_id}
        if purpose:
            h["X-Purpose"] = purpose
        r = client.get(f"{API}/{p.id}", headers=h)
        self.status = r.status_code
        self.body: dict[str, Any] = r.json()
        self.events = [e for e in events_for(session, self.request_id) if e.participant_id == p.id]

    @property
    def shown(self) -> set[str]:
        return disclosed_categories(self.body)

    @property
    def withheld(self) -> dict[str, str]:
        return {w["category"]: w["reason"] for w in self.body.get("withheld", [])}

    @property
    def audited(self) -> set[str]:
        return {c for e in self.events if e.outcome == "allowed" for c in e.categories}

    def assert_shows(self, categories: set[str]) -> None:
        """Exactly `categories` of the participant record are shown (and audited), and the
        other record categories are withheld."""
        assert self.status == 200, self.body
        assert self.shown == categories, (self.shown, self.body)
        assert ALL_RECORD - categories <= set(self.withheld), self.withheld
        assert not (set(self.withheld) & categories), self.withheld
        assert self.events, "no AccessEvent for a 200 read"
        assert self.audited == categories, [(e.categories, e.outcome) for e in self.events]

    def assert_404(self) -> None:
        assert self.status == 404, self.body
        assert "Given" not in str(self.body) and "Family" not in str(self.body)
        assert any(e.outcome == "denied" for e in self.events), "404 without a denied event"
        assert not any(e.categories for e in self.events)


def listed(client: TestClient, headers: dict[str, str]) -> set[str]:
    r = client.get(f"{API}?limit=100", headers=headers)
    assert r.status_code == 200, r.text
    return {row["id"] for row in r.json()["items"]}


@pytest.fixture
def b(db: Session, world: World) -> Built:
    return Built(session=db, world=world)


def two_orgs(client: TestClient, b: Built, kinds: tuple[str, ...] = ()) -> ParticipantFacts:
    """O0 (prison healthcare) registers P0; O1 (community mental health), O2 (housing)."""
    kinds = kinds or ("prison_healthcare", "community_mental_health", "housing")
    for i, kind in enumerate(kinds):
        b.add_org(f"O{i}", kind)
    return register(client, b, 0, 0, FIELDS)


def public_task(b: Built, categories: set[str], purposes: set[str] | None = None) -> None:
    add_protocol(
        b,
        ("id", b.facts[0].id),
        ("id", b.facts[1].id),
        categories,
        purposes or {"direct_care"},
        "public_task",
        TODAY - timedelta(days=30),
        None,
    )


def consent_protocol(b: Built, categories: set[str]) -> None:
    add_protocol(
        b,
        ("kind", "prison_healthcare"),
        ("kind", "community_mental_health"),
        categories,
        {"direct_care"},
        "consent",
        TODAY - timedelta(days=30),
        None,
    )


# --- rule 1: own record -------------------------------------------------------------------


def test_the_source_organisation_sees_its_own_record(client: TestClient, b: Built) -> None:
    p = two_orgs(client, b)
    read = Read(client, b.session, b.actors[0].headers, p)
    read.assert_shows(ALL_RECORD)
    assert read.withheld == {}
    for name in FIELDS:
        assert read.body[name] == p.values[name]
    assert any("own_record" in str(basis) for e in read.events for basis in e.basis), read.events
    assert str(p.id) in listed(client, b.actors[0].headers)


def test_own_record_even_after_the_source_left_the_care_team(client: TestClient, b: Built) -> None:
    p = two_orgs(client, b)
    end_lead_membership(b, p)
    Read(client, b.session, b.actors[0].headers, p).assert_shows(ALL_RECORD)


# --- rule 2: relationship -----------------------------------------------------------------


def test_no_relationship_is_404_and_audited_as_denied(client: TestClient, b: Built) -> None:
    p = two_orgs(client, b)
    public_task(b, ALL_RECORD)  # a protocol alone is not a relationship
    Read(client, b.session, b.actors[1].headers, p).assert_404()
    assert str(p.id) not in listed(client, b.actors[1].headers)


@pytest.mark.parametrize("mode", ["ended", "api_ended", "not_started"])
def test_inactive_care_team_membership_is_no_relationship(
    client: TestClient, b: Built, mode: str
) -> None:
    p = two_orgs(client, b)
    public_task(b, ALL_RECORD)
    add_membership(client, b, p, 1, mode)
    Read(client, b.session, b.actors[1].headers, p).assert_404()
    assert str(p.id) not in listed(client, b.actors[1].headers)


@pytest.mark.parametrize("mode", ["api", "active", "ending_later"])
def test_active_care_team_membership_with_protocol(client: TestClient, b: Built, mode: str) -> None:
    p = two_orgs(client, b)
    public_task(b, {"identity", "custody"})
    add_membership(client, b, p, 1, mode)
    Read(client, b.session, b.actors[1].headers, p).assert_shows({"identity", "custody"})
    assert str(p.id) in listed(client, b.actors[1].headers)


def test_referral_only_sees_the_attached_categories_only(client: TestClient, b: Built) -> None:
    p = two_orgs(client, b)
    public_task(b, {"identity", "contact", "custody"})
    add_referral(b, p, 0, 1, "submitted", {"identity", "mental_health"})
    read = Read(client, b.session, b.actors[1].headers, p)
    read.assert_shows({"identity"})
    assert "contact" in read.withheld and "custody" in read.withheld
    assert "phone" not in read.body and "establishment" not in read.body


@pytest.mark.parametrize("status", ["draft", "declined", "completed", "withdrawn"])
def test_a_referral_that_is_not_open_is_no_relationship(
    client: TestClient, b: Built, status: str
) -> None:
    p = two_orgs(client, b)
    public_task(b, ALL_RECORD)
    add_referral(b, p, 0, 1, status, {"identity"})
    Read(client, b.session, b.actors[1].headers, p).assert_404()


def test_a_referral_to_someone_else_is_no_relationship(client: TestClient, b: Built) -> None:
    p = two_orgs(client, b)
    public_task(b, ALL_RECORD)
    add_referral(b, p, 0, 2, "accepted", {"identity"})
    Read(client, b.session, b.actors[1].headers, p).assert_404()


# --- rule 3: protocols ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "applies"),
    [
        (-30, -1, False),
        (1, None, False),
        (1, 30, False),
        (-30, 30, True),
        (-30, None, True),
        # "effective from/to" read as inclusive dates: a protocol is in force on both.
        (0, None, True),
        (-30, 0, True),
    ],
)
def test_protocol_applies_only_within_its_dates(
    client: TestClient, b: Built, start: int, end: int | None, applies: bool
) -> None:
    p = two_orgs(client, b)
    add_membership(client, b, p, 1, "api")
    add_protocol(
        b,
        ("id", b.facts[0].id),
        ("kind", "community_mental_health"),
        {"contact"},
        {"direct_care"},
        "public_task",
        TODAY + timedelta(days=start),
        None if end is None else TODAY + timedelta(days=end),
    )
    Read(client, b.session, b.actors[1].headers, p).assert_shows({"contact"} if applies else set())


def test_purpose_must_be_one_of_the_protocol_purposes(client: TestClient, b: Built) -> None:
    p = two_orgs(client, b)
    add_membership(client, b, p, 1, "api")
    public_task(b, {"contact", "custody"}, {"direct_care"})
    headers = b.actors[1].headers
    Read(client, b.session, headers, p).assert_shows({"contact", "custody"})
    Read(client, b.session, headers, p, "direct_care").assert_shows({"contact", "custody"})
    wrong = Read(client, b.session, headers, p, "safeguarding")
    wrong.assert_shows(set())
    assert all(e.purpose == "safeguarding" for e in wrong.events)


def test_protocol_for_another_recipient_or_source_does_not_apply(
    client: TestClient, b: Built
) -> None:
    p = two_orgs(client, b)
    add_membership(client, b, p, 1, "api")
    # O2 -> O1 (wrong source), O0 -> housing (wrong recipient kind).
    add_protocol(
        b,
        ("id", b.facts[2].id),
        ("id", b.facts[1].id),
        ALL_RECORD,
        {"direct_care"},
        "public_task",
        TODAY - timedelta(days=3),
        None,
    )
    add_protocol(
        b,
        ("id", b.facts[0].id),
        ("kind", "housing"),
        ALL_RECORD,
        {"direct_care"},
        "public_task",
        TODAY - timedelta(days=3),
        None,
    )
    Read(client, b.session, b.actors[1].headers, p).assert_shows(set())


def test_only_the_current_protocol_version_applies(client: TestClient, b: Built) -> None:
    p = two_orgs(client, b)
    add_membership(client, b, p, 1, "api")
    first = add_protocol(
        b,
        ("id", b.facts[0].id),
        ("id", b.facts[1].id),
        ALL_RECORD,
        {"direct_care"},
        "public_task",
        TODAY - timedelta(days=30),
        None,
        is_current=False,
    )
    add_protocol(
        b,
        ("id", b.facts[0].id),
        ("id", b.facts[1].id),
        {"identity"},
        {"direct_care"},
        "public_task",
        TODAY - timedelta(days=30),
        None,
        version=2,
        protocol_id=first.protocol_id,
    )
    Read(client, b.session, b.actors[1].headers, p).assert_shows({"identity"})


# --- rule 4: consent ------------------------------------------------------------------------


def test_public_task_protocol_needs_no_consent(client: TestClient, b: Built) -> None:
    p = two_orgs(client, b)
    add_membership(client, b, p, 1, "api")
    public_task(b, {"identity", "contact"})
    assert p.consents == []
    Read(client, b.session, b.actors[1].headers, p).assert_shows({"identity", "contact"})


def test_consent_protocol_without_consent_withholds(client: TestClient, b: Built) -> None:
    p = two_orgs(client, b)
    add_membership(client, b, p, 1, "api")
    consent_protocol(b, {"identity", "contact"})
    read = Read(client, b.session, b.actors[1].headers, p)
    read.assert_shows(set())
    assert read.withheld["identity"] and read.withheld["contact"]


@pytest.mark.parametrize(
    ("state", "shown"),
    [("active", {"contact"}), ("expiring", {"contact"}), ("expired", set()), ("withdrawn", set())],
)
def test_consent_must_be_active(client: TestClient, b: Built, state: str, shown: set[str]) -> None:
    p = two_orgs(client, b)
    add_membership(client, b, p, 1, "api")
    consent_protocol(b, {"contact", "identity"})
    add_consent(client, b, p, {"contact"}, {1}, set(), {"direct_care"}, state)
    Read(client, b.session, b.actors[1].headers, p).assert_shows(shown)


def test_consent_must_name_the_recipient_and_the_purpose(client: TestClient, b: Built) -> None:
    p = two_orgs(client, b)
    add_membership(client, b, p, 1, "api")
    consent_protocol(b, {"contact", "identity", "custody"})
    add_consent(client, b, p, {"contact"}, {2}, {"housing"}, {"direct_care"}, "active")
    add_consent(client, b, p, {"identity"}, {1}, set(), {"safeguarding"}, "active")
    add_consent(
        client, b, p, {"custody"}, set(), {"community_mental_health"}, {"direct_care"}, "active"
    )
    Read(client, b.session, b.actors[1].headers, p).assert_shows({"custody"})


def test_consent_withdrawn_takes_effect_on_the_next_request(client: TestClient, b: Built) -> None:
    p = two_orgs(client, b)
    add_membership(client, b, p, 1, "api")
    consent_protocol(b, {"contact", "identity"})
    lead = b.actors[0]
    r = client.post(
        f"{API}/{p.id}/consents",
        json={
            "categories": ["contact", "identity"],
            "recipient_org_ids": [str(b.facts[1].id)],
            "purposes": ["direct_care"],
            "method": "verbal",
        },
        headers=lead.headers,
    )
    assert r.status_code == 201, r.text
    Read(client, b.session, b.actors[1].headers, p).assert_shows({"contact", "identity"})
    w = client.post(
        f"{API}/{p.id}/consents/{r.json()['id']}/withdraw",
        json={"reason": "Synthetic: changed their mind"},
        headers=lead.headers,
    )
    assert w.status_code == 200, w.text
    after = Read(client, b.session, b.actors[1].headers, p)
    after.assert_shows(set())
    assert {"contact", "identity"} <= set(after.withheld)


# --- rule 5: break-glass --------------------------------------------------------------------


def test_break_glass_grants_named_categories_until_it_expires(client: TestClient, b: Built) -> None:
    p = two_orgs(client, b)
    add_membership(client, b, p, 1, "api")
    actor: Actor = b.actors[1]
    Read(client, b.session, actor.headers, p).assert_shows(set())
    assert break_glass(client, b, p, actor, {"contact", "custody"}, expire=False) == 201
    during = Read(client, b.session, actor.headers, p)
    during.assert_shows({"contact", "custody"})
    assert any("break" in str(e.basis) for e in during.events), [e.basis for e in during.events]
    # Another practitioner of the same organisation did not break the glass.
    Read(client, b.session, b.actor(1).headers, p).assert_shows(set())
    # Expire the grant: access ends.
    grant = b.session.exec(
        select(BreakGlassGrant).where(BreakGlassGrant.participant_id == p.id)
    ).one()
    grant.expires_at = utc_now() - timedelta(seconds=1)
    b.session.add(grant)
    b.session.commit()
    Read(client, b.session, actor.headers, p).assert_shows(set())


def test_break_glass_needs_a_justification_and_a_relationship(client: TestClient, b: Built) -> None:
    p = two_orgs(client, b)
    body = {"reason_code": "risk_to_life", "categories": ["contact"]}
    short = client.post(
        f"{API}/{p.id}/break-glass",
        json={**body, "justification": "too short"},
        headers=b.actors[0].headers,
    )
    assert short.status_code == 422, short.text
    stranger = client.post(
        f"{API}/{p.id}/break-glass",
        json={**body, "justification": JUSTIFICATION},
        headers=b.actors[1].headers,
    )
    assert stranger.status_code == 404, stranger.text
    Read(client, b.session, b.actors[1].headers, p).assert_404()


def test_break_glass_is_for_practitioners_and_supervisors_only(
    client: TestClient, b: Built
) -> None:
    p = two_orgs(client, b)
    add_membership(client, b, p, 1, "api")
    admin = b.actor(1, "org_admin")
    r = client.post(
        f"{API}/{p.id}/break-glass",
        json={
            "reason_code": "risk_to_life",
            "justification": JUSTIFICATION,
            "categories": ["contact"],
        },
        headers=admin.headers,
    )
    assert r.status_code == 403, r.text
    Read(client, b.session, admin.headers, p).assert_shows(set())
    supervisor = b.actor(1, "supervisor")
    assert break_glass(client, b, p, supervisor, {"contact"}, expire=False) == 201
    Read(client, b.session, supervisor.headers, p).assert_shows({"contact"})


def test_break_glass_is_for_the_participant_it_names(client: TestClient, b: Built) -> None:
    p = two_orgs(client, b)
    q = register(client, b, 0, 1, {"phone"})
    add_membership(client, b, p, 1, "api")
    add_membership(client, b, q, 1, "api")
    actor = b.actors[1]
    assert break_glass(client, b, p, actor, {"contact"}, expire=False) == 201
    Read(client, b.session, actor.headers, p).assert_shows({"contact"})
    Read(client, b.session, actor.headers, q).assert_shows(set())


# --- rule 6: the participant ------------------------------------------------------------------


def test_participant_token_sees_own_record_only(client: TestClient, b: Built) -> None:
    p = two_orgs(client, b)
    q = register(client, b, 1, 1, {"phone"})
    # The participant's account is held by O1, which registered Q: that must not let
    # the participant see Q (own_record belongs to practitioners of the source, not to
    # a participant account that happens to sit in the same organisation).
    headers = b.participant_headers(1, p.id)
    own = Read(client, b.session, headers, p)
    assert own.status == 200, own.body
    assert own.body["given_name"] == "Given0"
    assert own.events and own.audited == own.shown
    Read(client, b.session, headers, q).assert_404()
    assert listed(client, headers) == {str(p.id)}
    # A participant token linked to nobody here sees nothing.
    nobody = b.participant_headers(0, uuid.uuid4())
    Read(client, b.session, nobody, p).assert_404()
    assert listed(client, nobody) == set()


# --- lists ----------------------------------------------------------------------------------


def _list_world(client: TestClient, b: Built) -> set[str]:
    """Seven participants, registered by O0 or O2; O1 is on the care team of three of
    them (active), had ended memberships with two more, and nothing with the rest."""
    for i, kind in enumerate(("prison_healthcare", "community_mental_health", "housing")):
        b.add_org(f"O{i}", kind)
    public_task(b, {"identity"})
    visible: set[str] = set()
    for i in range(7):
        p = register(client, b, 0 if i % 2 else 2, i, set())
        if i % 3 == 0:
            add_membership(client, b, p, 1, "api" if p.source.id == b.facts[0].id else "active")
            visible.add(str(p.id))
        elif i % 3 == 1:
            add_membership(client, b, p, 1, "ended")
    return visible


def _check_row(b: Built, row: dict[str, Any]) -> None:
    # identity only where the protocol's source (O0) recorded the participant.
    by_o0 = row["source_org_id"] == str(b.facts[0].id)
    assert disclosed_categories(row) == ({"identity"} if by_o0 else set()), row


def test_list_shows_exactly_the_related_participants(client: TestClient, b: Built) -> None:
    visible = _list_world(client, b)
    r = client.get(API, params={"limit": 100}, headers=b.actors[1].headers)
    assert r.status_code == 200, r.text
    rows = r.json()["items"]
    assert {row["id"] for row in rows} == visible
    for row in rows:
        _check_row(b, row)


def test_list_pages_show_exactly_the_related_participants(client: TestClient, b: Built) -> None:
    visible = _list_world(client, b)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = client.get(API, params=params, headers=b.actors[1].headers)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 2
        for row in page["items"]:
            seen.append(row["id"])
            _check_row(b, row)
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)), "a participant appeared on two pages"
    assert set(seen) == visible
