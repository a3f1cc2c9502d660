"""Consent-withdrawal notices: tell every organisation that received data under a consent.

The access log is the source of truth: an organisation was given data under a consent
when an allowed access event names that consent as its basis. When the consent is
withdrawn, each such organisation gets a notice (to acknowledge) and, as a party, the
`consent.withdrawn` event. Telling and acknowledging are written to the access log too,
so the person's disclosure log says who was told and who acknowledged, in plain words.
"""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import String, cast, exists
from sqlmodel import Session, col, select

from app.auth.caller import Caller
from app.auth.tokens import CLIENT_TOKEN, PARTNER_ROLE
from app.core.errors import NotFound
from app.models.audit import AccessEvent
from app.models.events import ConsentExpiryNoticed
from app.models.notice import Notice
from app.models.organisation import Organisation
from app.models.participant import Participant
from app.models.sharing import Consent
from app.services.disclosures import CATEGORY_WORDS
from app.services.outbox import emit
from app.sharing import policy
from app.sharing.audit import EventDraft, append_events
from app.sharing.gate import SharingGate
from app.sharing.visibility import is_current_lead

KIND = "consent_withdrawn"
EXPIRED_KIND = "consent_expired"
KINDS = (KIND, EXPIRED_KIND)
TOLD = "told_of_consent_withdrawal"
ACKNOWLEDGED = "acknowledged_consent_withdrawal"
RESOURCE = "consent_notice"


class ConsentNoticeRead(BaseModel):
    """A notice sent to an organisation that was given data under a consent now withdrawn, and
    whether it has acknowledged it.
    """

    notice_id: uuid.UUID = Field(description="The notice the organisation received.")
    organisation_id: uuid.UUID
    organisation_name: str
    notified_at: datetime = Field(description="When the organisation was told.")
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    text: str


def recipients_under(session: Session, consent: Consent) -> list[uuid.UUID]:
    """Organisations the access log shows were given data with this consent as the basis."""
    rows = session.exec(
        select(AccessEvent.actor_org_id)
        .where(
            AccessEvent.participant_id == consent.participant_id,
            AccessEvent.outcome == "allowed",
            cast(col(AccessEvent.basis), String).contains(str(consent.id)),
            col(AccessEvent.actor_org_id).is_not(None),
        )
        .distinct()
    ).all()
    return sorted({r for r in rows if r is not None}, key=str)


def _draft(
    actor: str, org_id: uuid.UUID, role: str, notice: Notice, action: str, caller: Caller
) -> EventDraft:
    return EventDraft(
        actor=actor,
        actor_org_id=org_id,
        actor_role=role,
        participant_id=notice.participant_id,
        action=action,
        resource=RESOURCE,
        resource_id=str(notice.id),
        purpose=str(caller.purpose),
        request_id=caller.request_id,
        outcome="allowed",
    )


def notify_consent_withdrawal(gate: SharingGate, consent: Consent, expired: bool = False) -> None:
    """Notices to the organisations that received data under `consent`, and its event."""
    words = ", ".join(CATEGORY_WORDS.get(c, c) for c in consent.categories)
    told = [o for o in recipients_under(gate.session, consent) if o != gate.caller.org_id]
    ended = "has expired" if expired else "was withdrawn"
    notices = [
        Notice(
            organisation_id=org_id,
            kind=EXPIRED_KIND if expired else KIND,
            participant_id=consent.participant_id,
            subject_id=str(consent.id),
            message=(
                f"A consent under which you received {words} {ended}. Stop using it "
                "for new purposes, and acknowledge this notice."
            ),
        )
        for org_id in told
    ]
    gate.session.add_all(notices)
    gate.session.flush()
    append_events(
        gate.session,
        [
            _draft("system:consent_notice", n.organisation_id, "system", n, TOLD, gate.caller)
            for n in notices
        ],
    )
    emit(
        gate,
        "consent.expired" if expired else "consent.withdrawn",
        consent.participant_id,
        {"consent_id": consent.id},
        source_org_id=consent.source_org_id,
        parties=told,
    )


def record_acknowledgement(gate: SharingGate, notice: Notice) -> None:
    """An acknowledged withdrawal notice, named so in the person's disclosure log."""
    if notice.kind in KINDS and notice.participant_id is not None:
        gate.accessed(
            notice.participant_id,
            action=ACKNOWLEDGED,
            resource=RESOURCE,
            resource_id=str(notice.id),
        )


def consent_notices(
    gate: SharingGate, participant: Participant, consent_id: uuid.UUID
) -> list[ConsentNoticeRead]:
    """Who was told of a consent's withdrawal and who has acknowledged (lead, recorder, person)."""
    consent = gate.session.get(Consent, consent_id)
    if consent is None or consent.participant_id != participant.id:
        raise NotFound("No such consent.")
    verdict = policy.may_read_consent_notices(
        gate.actor,
        participant_id=participant.id,
        is_lead=is_current_lead(gate.session, participant.id, gate.caller.org_id, gate.now),
        is_recorder=consent.source_org_id == gate.caller.org_id,
    )
    gate.authorize(verdict, "read", RESOURCE, participant.id, resource_id=str(consent.id))
    rows = gate.session.exec(
        select(Notice, Organisation.name)
        .join(Organisation, col(Organisation.id) == Notice.organisation_id)
        .where(col(Notice.kind).in_(KINDS), Notice.subject_id == str(consent.id))
        .order_by(col(Notice.created_at), col(Notice.id))
    ).all()
    gate.accessed(participant.id, action="read", resource=RESOURCE, resource_id=str(consent.id))
    out = []
    for notice, name in rows:
        when = f"{notice.created_at.day} {notice.created_at:%B %Y}"
        if notice.acknowledged_at is not None:
            ack = notice.acknowledged_at
            text = f"{name} was told on {when} and acknowledged on {ack.day} {ack:%B %Y}."
        else:
            text = f"{name} was told on {when} and has not acknowledged yet."
        out.append(
            ConsentNoticeRead(
                notice_id=notice.id,
                organisation_id=notice.organisation_id,
                organisation_name=name,
                notified_at=notice.created_at,
                acknowledged_at=notice.acknowledged_at,
                acknowledged_by=notice.acknowledged_by,
                text=text,
            )
        )
    return out


def _system_caller(org: Organisation) -> Caller:
    return Caller(
        subject="system:consent_expiry",
        token_type=CLIENT_TOKEN,
        org_id=org.id,
        org_kind=org.kind,
        role=PARTNER_ROLE,
        scopes=frozenset(),
        token_id="",
        request_id="consent-expiry",
    )


def notify_expired_consents(session: Session, now: datetime, limit: int = 50) -> int:
    """Tell the recipients of consents that have expired since the last round (once each)."""
    consents = session.exec(
        select(Consent)
        .where(
            col(Consent.expires_at) <= now,
            col(Consent.withdrawn_at).is_(None),
            ~exists().where(col(ConsentExpiryNoticed.consent_id) == col(Consent.id)),
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for consent in consents:
        org = session.get(Organisation, consent.source_org_id)
        assert org is not None  # foreign key
        gate = SharingGate(session, _system_caller(org), now)
        notify_consent_withdrawal(gate, consent, expired=True)
        session.add(ConsentExpiryNoticed(consent_id=consent.id, noticed_at=now))
    session.flush()
    return len(consents)
