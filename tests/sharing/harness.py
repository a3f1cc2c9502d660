"""Builds synthetic worlds through the API and the tables, and checks reads against the
oracle in tests/sharing/oracle.py (responses, the `withheld` list and the audit rows)."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.auth.issue import token_for_user
from app.models.audit import AccessEvent
from app.models.break_glass import BreakGlassGrant
from app.models.organisation import Organisation, Role, User
from app.models.participant import CareRole, CareTeamMember
from app.models.referral import Referral
from app.models.sharing import Consent, SharingProtocol
from app.sharing.fields import PARTICIPANT_FIELDS
from tests.fixtures import World, rolled_back_session
from tests.sharing.oracle import (
    ConsentFact,
    GrantFact,
    MembershipFact,
    OrgFact,
    ParticipantFacts,
    ProtocolFact,
    ReferralFact,
    Verdict,
)

API = "/api/v1/participants"
JUSTIFICATION = "Synthetic emergency: risk to life, the person cannot be asked for consent now."


def utc_now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def rolled_back() -> Iterator[Session]:
    """The `db` fixture's pattern, as a context manager: one rolled-back world per use
    (so each hypothesis example is self-contained)."""
    with rolled_back_session() as session:
        yield session


def nhs_number(seed: int) -> str:
    """A valid synthetic NHS number (modulus-11 check digit) derived from `seed`."""
    n = seed
    while True:
        body = f"{900000000 + n % 99999999:09d}"
        total = sum(int(d) * (10 - i) for i, d in enumerate(body))
        check = 11 - total % 11
        check = 0 if check == 11 else check
        if check != 10:
            return body + str(check)
        n += 1


def optional_values(index: int) -> dict[str, Any]:
    """Synthetic values for every optional personal field of participant number `index`."""
    today = date.today()
    return {
        "preferred_name": f"Pref{index}",
        "preferred_address": "Mx",
        "date_of_birth": "1990-04-02",
        "nhs_number": nhs_number(1000 + index * 7),
        "prison_number": f"A{1234 + index}BC",
        "probation_crn": f"X{123456 + index}",
        "phone": f"07700 90012{index}",
        "email": f"synthetic{index}@example.org",
        "address": f"{index + 1} Synthetic Street",
        "gender": "synthetic gender",
        "ethnicity": "synthetic ethnicity",
        "religion": "synthetic religion",
        "disability": "synthetic disability",
        "establishment": "HMP Synthetic",
        "expected_release_date": (today + timedelta(days=40)).isoformat(),
        "actual_release_date": (today - timedelta(days=3)).isoformat(),
        "licence_end_date": (today + timedelta(days=400)).isoformat(),
        "intervention_start": (today - timedelta(days=20)).isoformat(),
        "intervention_end": (today + timedelta(days=200)).isoformat(),
    }


OPTIONAL_FIELDS: tuple[str, ...] = tuple(sorted(optional_values(0)))


@dataclass
class Actor:
    org: OrgFact
    user: User
    headers: dict[str, str]

    @property
    def subject(self) -> str:
        return f"user:{self.user.id}"


@dataclass
class Built:
    """A world as stored, with everything the oracle needs.

    Rows written directly are committed at once: the session is shared with the app, and
    a request that fails (a 404, a 409) rolls the session back to its last commit, which
    would otherwise silently drop the test's uncommitted rows. (The commit releases a
    savepoint only; the outer transaction is still rolled back at the end.)
    """

    session: Session
    world: World
    orgs: list[Organisation] = field(default_factory=list)
    facts: list[OrgFact] = field(default_factory=list)
    actors: list[Actor] = field(default_factory=list)
    participants: list[ParticipantFacts] = field(default_factory=list)
    protocols: list[ProtocolFact] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    def add_org(self, label: str, kind: str) -> OrgFact:
        org = self.world.org(label, kind)
        fact = OrgFact(id=org.id, kind=str(org.kind), name=label)
        self.orgs.append(org)
        self.facts.append(fact)
        self.session.commit()
        self.actors.append(self.actor(len(self.orgs) - 1))
        self.log.append(f"org {label}: kind={kind} id={org.id}")
        return fact

    def actor(self, index: int, role: str = Role.practitioner) -> Actor:
        user = self.world.user(self.orgs[index], role)
        self.session.commit()
        token = token_for_user(user, self.orgs[index]).access_token
        return Actor(self.facts[index], user, {"Authorization": f"Bearer {token}"})

    def participant_headers(self, org_index: int, participant_id: uuid.UUID) -> dict[str, str]:
        user = self.world.user(self.orgs[org_index], Role.participant, participant_id)
        self.session.commit()
        token = token_for_user(user, self.orgs[org_index]).access_token
        return {"Authorization": f"Bearer {token}"}

    def label(self, org_id: uuid.UUID | None) -> str:
        for f in self.facts:
            if f.id == org_id:
                return f.name
        return str(org_id)

    def describe(self) -> str:
        lines = ["WORLD:", *("  " + line for line in self.log)]
        return "\n".join(lines)


# --- building ---------------------------------------------------------------------------


def register(
    client: TestClient, built: Built, org_index: int, index: int, fields: set[str]
) -> ParticipantFacts:
    """POST a participant as a practitioner of org `org_index` with the named fields."""
    actor = built.actors[org_index]
    values = optional_values(index)
    body: dict[str, Any] = {"given_name": f"Given{index}", "family_name": f"Family{index}"}
    body.update({f: values[f] for f in fields})
    r = client.post(API, json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    pid = uuid.UUID(r.json()["id"])
    stored: dict[str, Any] = {f: None for f in PARTICIPANT_FIELDS}
    stored.update(body)
    stored["phase"] = "in_prison"
    stored["lead_practitioner_id"] = str(actor.user.id)
    facts = ParticipantFacts(
        id=pid,
        source=actor.org,
        values=stored,
        memberships=[
            MembershipFact(actor.org.id, since=utc_now() - timedelta(seconds=5), lead=True)
        ],
    )
    built.participants.append(facts)
    built.log.append(
        f"participant P{index} id={pid} registered by {actor.org.name}; fields="
        f"{sorted(k for k, v in stored.items() if v is not None)}"
    )
    return facts


def end_lead_membership(built: Built, p: ParticipantFacts) -> None:
    """End the registering organisation's own (lead) membership in the past."""
    until = utc_now() - timedelta(hours=1)
    rows = built.session.exec(
        select(CareTeamMember).where(
            CareTeamMember.participant_id == p.id,
            CareTeamMember.organisation_id == p.source.id,
        )
    ).all()
    for row in rows:
        row.since = utc_now() - timedelta(days=10)
        row.until = until
        built.session.add(row)
    built.session.commit()
    p.memberships = [
        MembershipFact(m.org_id, utc_now() - timedelta(days=10), until, lead=m.lead)
        if m.org_id == p.source.id
        else m
        for m in p.memberships
    ]
    built.log.append(f"  P{p.values['given_name']}: source's lead membership ended {until}")


def add_membership(
    client: TestClient, built: Built, p: ParticipantFacts, org_index: int, mode: str
) -> None:
    """Give org `org_index` a care-team membership of `p` in one of several states."""
    org = built.facts[org_index]
    now = utc_now()
    lead = built.actors[built.facts.index(p.source)]
    if mode in {"api", "api_ended"}:
        since = now - timedelta(seconds=1)
        r = client.post(
            f"{API}/{p.id}/care-team",
            json={"organisation_id": str(org.id), "role": "contributor"},
            headers=lead.headers,
        )
        if r.status_code != 201:
            # Adding may be refused (e.g. the lead ended, or already a member): no change.
            built.log.append(f"  care-team POST {org.name} -> {r.status_code} (no membership)")
            return
        member_id = r.json()["id"]
        until = None
        if mode == "api_ended":
            d = client.delete(f"{API}/{p.id}/care-team/{member_id}", headers=lead.headers)
            assert d.status_code == 200, d.text
            until = utc_now()
        p.memberships.append(MembershipFact(org.id, since=since, until=until))
        built.log.append(f"  membership {org.name} via API ({mode})")
        return
    since, until = {
        "active": (now - timedelta(days=3), None),
        "ended": (now - timedelta(days=30), now - timedelta(days=1)),
        "ending_later": (now - timedelta(days=30), now + timedelta(days=5)),
        "not_started": (now + timedelta(days=2), None),
    }[mode]
    built.session.add(
        CareTeamMember(
            participant_id=p.id,
            organisation_id=org.id,
            role=CareRole.peer if mode == "active" else CareRole.contributor,
            source_org_id=p.source.id,
            since=since,
            until=until,
            added_by="test",
        )
    )
    built.session.commit()
    p.memberships.append(MembershipFact(org.id, since=since, until=until))
    built.log.append(f"  membership {org.name} row {mode}: since={since} until={until}")


def add_referral(
    built: Built,
    p: ParticipantFacts,
    from_index: int,
    to_index: int,
    status: str,
    categories: set[str],
) -> None:
    now = utc_now()
    built.session.add(
        Referral(
            participant_id=p.id,
            from_org_id=built.facts[from_index].id,
            to_org_id=built.facts[to_index].id,
            reason="Synthetic referral reason",
            urgency="routine",
            categories=sorted(categories),
            status=status,
            created_by="test",
            submitted_at=None if status == "draft" else now - timedelta(hours=2),
        )
    )
    built.session.commit()
    p.referrals.append(
        ReferralFact(
            built.facts[from_index].id, built.facts[to_index].id, status, frozenset(categories)
        )
    )
    built.log.append(
        f"  referral {built.facts[from_index].name} -> {built.facts[to_index].name}"
        f" status={status} categories={sorted(categories)}"
    )


def add_protocol(
    built: Built,
    source: tuple[str, Any],
    recipient: tuple[str, Any],
    categories: set[str],
    purposes: set[str],
    basis: str,
    effective_from: date,
    effective_to: date | None,
    is_current: bool = True,
    version: int = 1,
    protocol_id: uuid.UUID | None = None,
) -> ProtocolFact:
    """Insert one protocol version; `source`/`recipient` are ("id", uuid) or ("kind", kind)."""
    protocol_id = protocol_id or uuid.uuid4()
    row = SharingProtocol(
        protocol_id=protocol_id,
        version=version,
        is_current=is_current,
        created_by="test",
        name=f"Synthetic protocol {protocol_id.hex[:6]} v{version}",
        source_org_id=source[1] if source[0] == "id" else None,
        source_org_kind=source[1] if source[0] == "kind" else None,
        recipient_org_id=recipient[1] if recipient[0] == "id" else None,
        recipient_org_kind=recipient[1] if recipient[0] == "kind" else None,
        categories=sorted(categories),
        purposes=sorted(purposes),
        lawful_basis=basis,
        effective_from=effective_from,
        effective_to=effective_to,
        approved_by="Synthetic IG lead",
    )
    built.session.add(row)
    built.session.commit()
    fact = ProtocolFact(
        protocol_id=protocol_id,
        source_org_id=row.source_org_id,
        source_org_kind=str(row.source_org_kind) if row.source_org_kind else None,
        recipient_org_id=row.recipient_org_id,
        recipient_org_kind=str(row.recipient_org_kind) if row.recipient_org_kind else None,
        categories=frozenset(categories),
        purposes=frozenset(purposes),
        lawful_basis=basis,
        effective_from=effective_from,
        effective_to=effective_to,
        is_current=is_current,
    )
    built.protocols.append(fact)
    src = built.label(source[1]) if source[0] == "id" else f"kind:{source[1]}"
    rec = built.label(recipient[1]) if recipient[0] == "id" else f"kind:{recipient[1]}"
    built.log.append(
        f"protocol {protocol_id.hex[:8]} v{version} current={is_current} {src} -> {rec}"
        f" categories={sorted(categories)} purposes={sorted(purposes)} basis={basis}"
        f" effective {effective_from}..{effective_to}"
    )
    return fact


def add_consent(
    client: TestClient,
    built: Built,
    p: ParticipantFacts,
    categories: set[str],
    recipient_indexes: set[int],
    recipient_kinds: set[str],
    purposes: set[str],
    state: str,
) -> None:
    """Record a consent in one of: active, expiring (later), expired, withdrawn (row),
    api (POST), api_withdrawn (POST then POST …/withdraw)."""
    now = utc_now()
    ids = sorted(str(built.facts[i].id) for i in recipient_indexes)
    kinds = sorted(recipient_kinds)
    if state.startswith("api"):
        lead = built.actors[built.facts.index(p.source)]
        r = client.post(
            f"{API}/{p.id}/consents",
            json={
                "categories": sorted(categories),
                "recipient_org_ids": ids,
                "recipient_org_kinds": kinds,
                "purposes": sorted(purposes),
                "method": "verbal",
            },
            headers=lead.headers,
        )
        assert r.status_code == 201, r.text
        consent_id = uuid.UUID(r.json()["id"])
        withdrawn_at = None
        if state == "api_withdrawn":
            w = client.post(
                f"{API}/{p.id}/consents/{consent_id}/withdraw",
                json={"reason": "Synthetic withdrawal"},
                headers=lead.headers,
            )
            assert w.status_code == 200, w.text
            withdrawn_at = utc_now()
        given_at, expires_at = now - timedelta(seconds=1), None
    else:
        consent_id = uuid.uuid4()
        given_at = now - timedelta(days=10)
        expires_at = {
            "active": None,
            "expiring": now + timedelta(days=30),
            "expired": now - timedelta(days=1),
            "withdrawn": None,
        }[state]
        withdrawn_at = now - timedelta(days=2) if state == "withdrawn" else None
        built.session.add(
            Consent(
                id=consent_id,
                participant_id=p.id,
                source_org_id=p.source.id,
                categories=sorted(categories),
                recipient_org_ids=ids,
                recipient_org_kinds=kinds,
                purposes=sorted(purposes),
                method="verbal",
                recorded_by="test",
                given_at=given_at,
                expires_at=expires_at,
                withdrawn_at=withdrawn_at,
                withdrawal_reason="Synthetic withdrawal" if withdrawn_at else None,
                withdrawn_by="test" if withdrawn_at else None,
            )
        )
        built.session.commit()
    p.consents.append(
        ConsentFact(
            consent_id=consent_id,
            categories=frozenset(categories),
            recipient_org_ids=frozenset(uuid.UUID(i) for i in ids),
            recipient_org_kinds=frozenset(kinds),
            purposes=frozenset(purposes),
            given_at=given_at,
            expires_at=expires_at,
            withdrawn_at=withdrawn_at,
        )
    )
    built.log.append(
        f"  consent {consent_id.hex[:8]} {state}: categories={sorted(categories)}"
        f" to ids={[built.label(uuid.UUID(i)) for i in ids]} kinds={kinds}"
        f" purposes={sorted(purposes)}"
    )


def break_glass(
    client: TestClient,
    built: Built,
    p: ParticipantFacts,
    actor: Actor,
    categories: set[str],
    expire: bool,
) -> int:
    """POST break-glass as `actor`; optionally expire the grant. Returns the status."""
    r = client.post(
        f"{API}/{p.id}/break-glass",
        json={
            "reason_code": "risk_to_life",
            "justification": JUSTIFICATION,
            "categories": sorted(categories),
        },
        headers=actor.headers,
    )
    if r.status_code != 201:
        built.log.append(
            f"  break-glass on P{p.values['given_name']} {actor.org.name} -> {r.status_code}"
        )
        return r.status_code
    grant = built.session.get(BreakGlassGrant, uuid.UUID(r.json()["id"]))
    assert grant is not None
    expires_at = grant.expires_at
    if expire:
        expires_at = utc_now() - timedelta(minutes=1)
        grant.granted_at = expires_at - timedelta(minutes=60)
        grant.expires_at = expires_at
        built.session.add(grant)
        built.session.commit()
    p.grants.append(GrantFact(actor.subject, actor.org.id, frozenset(categories), expires_at))
    built.log.append(
        f"  break-glass on P{p.values['given_name']} by {actor.org.name} ({actor.subject})"
        f" categories={sorted(categories)} expires_at={expires_at}"
    )
    return r.status_code


# --- checking ---------------------------------------------------------------------------


def disclosed_categories(body: dict[str, Any]) -> set[str]:
    """Categories of the personal fields present in a participant response."""
    return {str(PARTICIPANT_FIELDS[k]) for k in body if k in PARTICIPANT_FIELDS}


def events_for(session: Session, request_id: str) -> list[AccessEvent]:
    return list(
        session.exec(
            select(AccessEvent)
            .where(AccessEvent.request_id == request_id)
            .order_by(col(AccessEvent.seq))
        ).all()
    )


def fmt_events(events: list[AccessEvent]) -> str:
    return "; ".join(
        f"[{e.action} {e.resource} p={e.participant_id} org={e.actor_org_id} "
        f"cats={sorted(e.categories)} outcome={e.outcome} basis={e.basis}]"
        for e in events
    )


def check_body(
    label: str, body: dict[str, Any], p: ParticipantFacts, verdict: Verdict
) -> list[str]:
    """Field-level comparison of one participant object with the oracle's verdict."""
    problems: list[str] = []
    where = f"{label}: P={p.values['given_name']}"
    if body.get("id") != str(p.id):
        problems.append(f"{where}: wrong id {body.get('id')}")
    for name, category in PARTICIPANT_FIELDS.items():
        cat = str(category)
        present = name in body
        expected = p.values.get(name)
        if cat not in verdict.allowed:
            if present:
                problems.append(
                    f"{where}: LEAK field {name} ({cat}) present, oracle denies "
                    f"({verdict.denied.get(cat)})"
                )
        elif expected is not None:
            if not present:
                problems.append(
                    f"{where}: OVER-REDACTION field {name} ({cat}) missing, oracle allows "
                    f"({verdict.allowed[cat]})"
                )
            elif body[name] != expected:
                problems.append(f"{where}: field {name} = {body[name]!r}, stored {expected!r}")
        elif present and body[name] is not None:
            problems.append(f"{where}: field {name} = {body[name]!r}, stored nothing")
    withheld = body.get("withheld")
    if not isinstance(withheld, list):
        problems.append(f"{where}: no `withheld` list")
        withheld = []
    withheld_cats = {w.get("category") for w in withheld}
    for cat in verdict.denied:
        if cat not in withheld_cats:
            problems.append(f"{where}: denied category {cat} missing from withheld {withheld}")
    for w in withheld:
        if not w.get("reason"):
            problems.append(f"{where}: withheld entry without a reason {w}")
        if w.get("category") in verdict.allowed:
            problems.append(
                f"{where}: OVER-REDACTION {w.get('category')} withheld ({w.get('reason')}),"
                f" oracle allows ({verdict.allowed[w['category']]})"
            )
    leaked_and_withheld = withheld_cats & disclosed_categories(body)
    if leaked_and_withheld:
        problems.append(f"{where}: categories both disclosed and withheld {leaked_and_withheld}")
    return problems


def check_audit_allowed(
    label: str,
    session: Session,
    request_id: str,
    org: OrgFact,
    shown: dict[uuid.UUID, set[str]],
    all_ids: set[uuid.UUID],
) -> list[str]:
    """Every participant shown has audit rows of this request whose categories (together)
    are exactly those disclosed; nothing is recorded as disclosed for anyone not shown."""
    problems: list[str] = []
    events = events_for(session, request_id)
    for pid, categories in shown.items():
        mine = [e for e in events if e.participant_id == pid]
        if not mine:
            problems.append(f"{label}: NO AUDIT row for {pid} (disclosed {sorted(categories)})")
            continue
        if any(e.actor_org_id != org.id for e in mine):
            problems.append(f"{label}: audit actor org wrong: {fmt_events(mine)}")
        recorded = set().union(*(set(e.categories) for e in mine if e.outcome == "allowed"))
        if recorded != categories:
            problems.append(
                f"{label}: AUDIT categories {sorted(recorded)} != disclosed "
                f"{sorted(categories)}: {fmt_events(mine)}"
            )
    for pid in all_ids - set(shown):
        leaked = [e for e in events if e.participant_id == pid and e.categories]
        if leaked:
            problems.append(
                f"{label}: audit says {pid} (not shown) disclosed: {fmt_events(leaked)}"
            )
    return problems


def check_audit_denied(
    label: str, session: Session, request_id: str, org: OrgFact, pid: uuid.UUID
) -> list[str]:
    events = [e for e in events_for(session, request_id) if e.participant_id == pid]
    denied = [e for e in events if e.outcome == "denied" and e.actor_org_id == org.id]
    problems = []
    if not denied:
        problems.append(f"{label}: 404 without a denied AccessEvent: {fmt_events(events)}")
    if any(e.categories for e in events):
        problems.append(f"{label}: 404 but audit records categories: {fmt_events(events)}")
    return problems


def read_one(
    client: TestClient,
    session: Session,
    headers: dict[str, str],
    org: OrgFact,
    p: ParticipantFacts,
    verdict: Verdict,
    purpose: str | None,
    label: str,
) -> tuple[list[str], dict[str, Any] | None]:
    """GET /participants/{id} and compare with `verdict`: status, fields, withheld, audit."""
    rid = uuid.uuid4().hex
    h = {**headers, "X-Request-ID": rid}
    if purpose is not None:
        h["X-Purpose"] = purpose
    r = client.get(f"{API}/{p.id}", headers=h)
    label = f"{label} GET P={p.values['given_name']} purpose={purpose}"
    if r.status_code not in (200, 404):
        return [f"{label}: unexpected status {r.status_code} {r.text[:300]}"], None
    if verdict.exists and r.status_code == 404:
        return [f"{label}: 404 but oracle says the participant exists ({verdict.trace})"], None
    if not verdict.exists and r.status_code == 200:
        return [f"{label}: LEAK 200 but oracle says 404; body={r.json()}"], r.json()
    if r.status_code == 404:
        return check_audit_denied(label, session, rid, org, p.id), None
    body = r.json()
    problems = check_body(label, body, p, verdict)
    problems += check_audit_allowed(
        label, session, rid, org, {p.id: disclosed_categories(body)}, {p.id}
    )
    return problems, body


def read_list(
    client: TestClient,
    session: Session,
    headers: dict[str, str],
    org: OrgFact,
    participants: list[ParticipantFacts],
    verdicts: dict[uuid.UUID, Verdict],
    purpose: str | None,
    label: str,
) -> list[str]:
    """GET /participants and compare membership, every row, and the audit rows."""
    rid = uuid.uuid4().hex
    h = {**headers, "X-Request-ID": rid}
    if purpose is not None:
        h["X-Purpose"] = purpose
    r = client.get(f"{API}?limit=100", headers=h)
    label = f"{label} LIST purpose={purpose}"
    if r.status_code != 200:
        return [f"{label}: status {r.status_code} {r.text[:300]}"]
    rows = {row["id"]: row for row in r.json()["items"]}
    problems: list[str] = []
    known = {str(p.id): p for p in participants}
    for rid_ in rows:
        if rid_ not in known:
            problems.append(f"{label}: LEAK unknown participant {rid_} listed")
    shown: dict[uuid.UUID, set[str]] = {}
    for p in participants:
        v = verdicts[p.id]
        row = rows.get(str(p.id))
        if v.exists and row is None:
            problems.append(f"{label}: P={p.values['given_name']} missing from list {v.trace}")
        elif not v.exists and row is not None:
            problems.append(f"{label}: LEAK P={p.values['given_name']} listed; oracle 404")
        if row is not None:
            problems += check_body(label, row, p, v)
            shown[p.id] = disclosed_categories(row)
    problems += check_audit_allowed(label, session, rid, org, shown, {p.id for p in participants})
    return problems


def check_explanation(
    client: TestClient,
    headers: dict[str, str],
    org: OrgFact,
    p: ParticipantFacts,
    source: OrgFact,
    purpose: str | None,
    protocols: list[ProtocolFact],
    actor: str,
    label: str,
) -> list[str]:
    """GET …/access?source_org_id= must agree with the oracle for every category."""
    from app.sharing.categories import Category
    from tests.sharing.oracle import decide_category

    h = dict(headers)
    if purpose is not None:
        h["X-Purpose"] = purpose
    r = client.get(f"{API}/{p.id}/access", params={"source_org_id": str(source.id)}, headers=h)
    label = f"{label} ACCESS P={p.values['given_name']} source={source.name} purpose={purpose}"
    if r.status_code != 200:
        return [f"{label}: status {r.status_code} {r.text[:300]}"]
    got = {d["category"]: d for d in r.json()["decisions"]}
    problems = []
    for category in Category:
        cat = str(category)
        ok, why = decide_category(
            p, org, cat, purpose or "direct_care", utc_now(), protocols, actor, source
        )
        d = got.get(cat)
        if d is None:
            problems.append(f"{label}: no decision for {cat}")
        elif d["allowed"] != ok:
            kind = "LEAK" if d["allowed"] else "OVER-REDACTION"
            problems.append(
                f"{label}: {kind} {cat}: app allowed={d['allowed']} basis={d.get('basis')}"
                f" reason={d.get('reason')} trace={d.get('trace')}; oracle {ok} ({why})"
            )
    return problems


def check_care_team(
    client: TestClient,
    session: Session,
    headers: dict[str, str],
    org: OrgFact,
    p: ParticipantFacts,
    verdict: Verdict,
    purpose: str | None,
    label: str,
) -> list[str]:
    """GET …/care-team: memberships are `plan` records whose source is the lead (the
    registering organisation here): all of them (ended ones included) when the oracle
    allows `plan`, none when it denies it; 404 when the participant does not exist."""
    rid = uuid.uuid4().hex
    h = {**headers, "X-Request-ID": rid}
    if purpose is not None:
        h["X-Purpose"] = purpose
    r = client.get(f"{API}/{p.id}/care-team", headers=h)
    label = f"{label} CARE-TEAM P={p.values['given_name']} purpose={purpose}"
    if not verdict.exists:
        if r.status_code != 404:
            return [f"{label}: LEAK {r.status_code} but oracle says 404: {r.text[:300]}"]
        return check_audit_denied(label, session, rid, org, p.id)
    if r.status_code != 200:
        return [f"{label}: status {r.status_code} {r.text[:300]}"]
    rows = r.json()
    expected = len(p.memberships) if "plan" in verdict.allowed else 0
    problems = []
    if len(rows) != expected:
        kind = "LEAK" if len(rows) > expected else "OVER-REDACTION"
        problems.append(
            f"{label}: {kind} {len(rows)} memberships shown, oracle expects {expected} "
            f"(plan: {verdict.allowed.get('plan') or verdict.denied.get('plan')})"
        )
    if rows:
        problems += check_audit_allowed(label, session, rid, org, {p.id: {"plan"}}, {p.id})
    return problems
