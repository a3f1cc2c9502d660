"""Consent withdrawal reaches exactly the organisations the access log shows received data
under that consent; the lead sees who acknowledged; the person's log says it in words."""

from sqlmodel import select

from app.models.audit import AccessEvent
from app.models.events import DomainEvent
from app.models.notice import Notice
from app.models.organisation import OrgKind
from app.models.participant import CareRole, CareTeamMember
from app.services.worker import run_once
from tests.api.referral_world import add_protocol
from tests.integration.world import HookWorld, P, Receiver


def _withdrawal_notices(hw: HookWorld) -> list[Notice]:
    stmt = select(Notice).where(
        Notice.kind == "consent_withdrawn", Notice.participant_id == hw.participant.id
    )
    return list(hw.db.exec(stmt).all())


def _setup_readers(hw: HookWorld) -> None:
    """Housing reads appointments under the consent; CMHT reads them under a protocol."""
    cmht = hw.world.org("CMHT", OrgKind.community_mental_health)
    hw.db.add(
        CareTeamMember(
            participant_id=hw.participant.id,
            organisation_id=cmht.id,
            role=CareRole.contributor,
            source_org_id=hw.coord.id,
            added_by="test",
        )
    )
    add_protocol(
        hw.db, OrgKind.care_coordination, OrgKind.community_mental_health, ["appointments"]
    )
    hw.db.commit()
    hw.book()
    url = f"{P}/{hw.participant.id}/appointments"
    for org in (hw.housing, cmht):
        res = hw.client.get(url, headers=hw.world.headers(org))
        assert res.status_code == 200 and len(res.json()["items"]) == 1


def test_notice_reaches_exactly_the_organisations_that_received_under_it(
    hw: HookWorld,
) -> None:
    _setup_readers(hw)
    # read independently of the service's query: every allowed access event whose basis
    # names this consent, and the organisations that made them
    events = hw.db.exec(
        select(AccessEvent).where(
            AccessEvent.participant_id == hw.participant.id, AccessEvent.outcome == "allowed"
        )
    ).all()
    under_consent = {
        e.actor_org_id
        for e in events
        if any(str(hw.consent.id) in map(str, b.values()) for b in e.basis)
    }
    assert under_consent == {hw.housing.id}  # CMHT read under a protocol, not the consent
    hw.withdraw()
    notices = _withdrawal_notices(hw)
    assert {n.organisation_id for n in notices} == under_consent
    assert [n.organisation_id for n in notices] == [hw.housing.id]
    assert "appointments" in notices[0].message and "Sam" not in notices[0].message
    [event] = hw.db.exec(
        select(DomainEvent).where(
            DomainEvent.type == "consent.withdrawn",
            DomainEvent.participant_id == hw.participant.id,
        )
    ).all()
    assert event.party_org_ids == [str(hw.housing.id)]


def test_a_webhook_delivery_under_the_consent_counts(hw: HookWorld, receiver: Receiver) -> None:
    hw.subscribe(receiver.url, "appointment.booked", "consent.withdrawn")
    hw.book()
    run_once(hw.sessions)
    hw.withdraw()
    run_once(hw.sessions)
    assert [n.organisation_id for n in _withdrawal_notices(hw)] == [hw.housing.id]
    types = [r.body for r in receiver.received]
    assert len(types) == 2 and b"consent.withdrawn" in types[1]  # sent to the party


def test_nobody_told_when_nobody_received(hw: HookWorld) -> None:
    hw.withdraw()
    assert _withdrawal_notices(hw) == []


def test_lead_follows_acknowledgement_and_the_person_reads_it(hw: HookWorld) -> None:
    _setup_readers(hw)
    hw.withdraw()
    url = f"{P}/{hw.participant.id}/consents/{hw.consent.id}/notices"
    [row] = hw.client.get(url, headers=hw.coord_headers).json()
    assert row["organisation_id"] == str(hw.housing.id) and row["acknowledged_at"] is None
    assert row["text"].endswith("has not acknowledged yet.")
    housing = hw.world.headers(hw.housing)
    [notice] = [
        n
        for n in hw.client.get("/api/v1/notices", headers=housing).json()["items"]
        if n["kind"] == "consent_withdrawn"
    ]
    res = hw.client.post(f"/api/v1/notices/{notice['id']}/acknowledge", headers=housing)
    assert res.status_code == 200
    [row] = hw.client.get(url, headers=hw.coord_headers).json()
    assert row["acknowledged_at"] is not None and " acknowledged on " in row["text"]
    person = hw.world.headers(hw.coord, "participant", participant_id=hw.participant.id)
    assert hw.client.get(url, headers=person).status_code == 200
    log = hw.client.get(f"{P}/{hw.participant.id}/disclosures", headers=person).json()["items"]
    texts = [e["text"] for e in log]
    name = hw.housing.name
    assert any(t.startswith(f"{name}: told of consent withdrawal") for t in texts)
    assert any(t.startswith(f"{name}: acknowledged consent withdrawal") for t in texts)


def test_other_organisation_cannot_follow_notices(hw: HookWorld) -> None:
    _setup_readers(hw)
    hw.withdraw()
    url = f"{P}/{hw.participant.id}/consents/{hw.consent.id}/notices"
    # housing is on the care team but neither lead nor the consent's recorder
    assert hw.client.get(url, headers=hw.world.headers(hw.housing)).status_code == 403
    stranger = hw.world.org("Stranger", OrgKind.housing)
    assert hw.client.get(url, headers=hw.world.headers(stranger)).status_code == 404


def test_expiry_is_announced_once_to_those_who_received(hw: HookWorld) -> None:
    from datetime import UTC, datetime, timedelta

    _setup_readers(hw)  # housing reads under the consent while it is valid
    hw.consent.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    hw.db.add(hw.consent)
    hw.db.commit()
    run_once(hw.sessions)
    run_once(hw.sessions)  # a second round tells nobody again
    notices = hw.db.exec(
        select(Notice).where(
            Notice.kind == "consent_expired", Notice.participant_id == hw.participant.id
        )
    ).all()
    assert [n.organisation_id for n in notices] == [hw.housing.id]
    assert "has expired" in notices[0].message
    [event] = hw.db.exec(
        select(DomainEvent).where(
            DomainEvent.type == "consent.expired",
            DomainEvent.participant_id == hw.participant.id,
        )
    ).all()
    assert event.party_org_ids == [str(hw.housing.id)]
    url = f"{P}/{hw.participant.id}/consents/{hw.consent.id}/notices"
    [row] = hw.client.get(url, headers=hw.coord_headers).json()
    assert row["organisation_id"] == str(hw.housing.id)
