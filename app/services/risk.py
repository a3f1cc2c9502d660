"""Risk alerts: raised and closed by practitioners, read through the sharing gate."""

import uuid

from sqlmodel import select

from app.core.errors import Conflict, NotFound
from app.core.pagination import PageParams
from app.models.base import utcnow
from app.models.listing import RecordPage
from app.models.risk import AlertStatus, RiskAlert, RiskAlertClose, RiskAlertCreate, RiskAlertRead
from app.services.outbox import emit
from app.services.record_pages import gated_record_page
from app.sharing import policy
from app.sharing.categories import Category
from app.sharing.gate import SharingGate


def list_alerts(
    gate: SharingGate,
    participant_id: uuid.UUID,
    paging: PageParams,
    status: AlertStatus | None = None,
) -> RecordPage[RiskAlertRead]:
    """The participant's risk alerts the caller may see, newest first."""
    gate.participant(participant_id, action="list", resource="risk_alert")
    filters = [] if status is None else [RiskAlert.status == status]
    shown, cursor, withheld = gated_record_page(
        gate,
        participant_id,
        RiskAlert,
        Category.risk,
        [RiskAlert.raised_at, RiskAlert.id],
        paging,
        resource="risk_alert",
        filters=filters,
    )
    return RecordPage(
        items=[RiskAlertRead.model_validate(a) for a in shown],
        next_cursor=cursor,
        withheld=withheld,
    )


def raise_alert(
    gate: SharingGate, participant_id: uuid.UUID, data: RiskAlertCreate
) -> RiskAlertRead:
    """Raise a risk alert, recorded by the caller's organisation."""
    gate.participant(participant_id, action="create", resource="risk_alert")
    staff = policy.may_do_staff_work(gate.actor, policy.Work.raise_alert)
    gate.authorize(staff, "create", "risk_alert", participant_id)
    alert = RiskAlert(
        **data.model_dump(),
        participant_id=participant_id,
        source_org_id=gate.caller.org_id,
        raised_by=gate.caller.subject,
    )
    gate.session.add(alert)
    gate.session.flush()
    emit(gate, "risk_alert.raised", participant_id, {"alert_id": alert.id})
    gate.wrote(
        participant_id,
        [Category.risk],
        action="create",
        resource="risk_alert",
        resource_id=str(alert.id),
    )
    return RiskAlertRead.model_validate(alert)


def close_alert(
    gate: SharingGate, participant_id: uuid.UUID, alert_id: uuid.UUID, data: RiskAlertClose
) -> RiskAlertRead:
    """Close an active alert with a reason (the raising organisation or the care team)."""
    gate.participant(participant_id, action="close", resource="risk_alert")
    alert = gate.session.exec(
        select(RiskAlert)
        .where(RiskAlert.id == alert_id, RiskAlert.participant_id == participant_id)
        .with_for_update()
    ).first()
    if alert is None:
        raise NotFound("No such record.")
    gate.require(
        participant_id,
        Category.risk,
        alert.source_org_id,
        action="close",
        resource="risk_alert",
        resource_id=str(alert.id),
    )
    may_close = policy.may_close_alert(
        gate.actor,
        source_org_id=alert.source_org_id,
        care_team=gate.facts(participant_id).care_team,
    )
    gate.authorize(may_close, "close", "risk_alert", participant_id, resource_id=str(alert.id))
    if alert.status == AlertStatus.closed:
        raise Conflict("The alert is already closed.")
    alert.status = AlertStatus.closed
    alert.closed_at = utcnow()
    alert.closed_by = gate.caller.subject
    alert.close_reason = data.reason
    gate.session.add(alert)
    gate.session.flush()
    emit(
        gate,
        "risk_alert.closed",
        participant_id,
        {"alert_id": alert.id},
        source_org_id=alert.source_org_id,
    )
    gate.wrote(
        participant_id,
        [Category.risk],
        action="close",
        resource="risk_alert",
        resource_id=str(alert.id),
    )
    return RiskAlertRead.model_validate(alert)
