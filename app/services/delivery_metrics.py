"""Webhook metrics read from the database at scrape time, so every worker process and
instance reports the same figures (no per-process counters). No participant ids."""

import logging

from sqlalchemy import case, func, text
from sqlalchemy import select as sa_select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from app.core.db import READ_ONLY, get_engine
from app.models.events import DomainEvent, WebhookDelivery

log = logging.getLogger("throughcare.metrics")
LATENCY_BUCKETS_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10000)
_STATUSES = ("pending", "delivered", "failed", "withheld")


def render_delivery_metrics(session: Session) -> str:
    """Outbox depth, deliveries by outcome and the delivery latency histogram."""
    depth = session.exec(select(func.count()).where(col(DomainEvent.dispatched_at).is_(None))).one()
    by_status = dict(
        session.exec(
            select(WebhookDelivery.status, func.count()).group_by(col(WebhookDelivery.status))
        ).all()
    )
    latency = col(WebhookDelivery.latency_ms)
    delivered = col(WebhookDelivery.status) == "delivered"
    sums = [func.sum(case((delivered & (latency <= b), 1), else_=0)) for b in LATENCY_BUCKETS_MS]
    row = (
        session.connection()
        .execute(
            sa_select(
                *sums,
                func.sum(case((delivered, 1), else_=0)),
                func.sum(case((delivered, latency), else_=0)),
            ).select_from(WebhookDelivery)
        )
        .one()
    )
    lines = [
        "# HELP throughcare_outbox_depth Events not yet fanned out to subscriptions.",
        "# TYPE throughcare_outbox_depth gauge",
        f"throughcare_outbox_depth {int(depth)}",
        "# HELP throughcare_webhook_deliveries Webhook deliveries by outcome.",
        "# TYPE throughcare_webhook_deliveries gauge",
    ]
    for status in _STATUSES:
        count = int(by_status.get(status, 0))
        lines.append(f'throughcare_webhook_deliveries{{outcome="{status}"}} {count}')
    lines += [
        "# HELP throughcare_webhook_delivery_seconds Latency of delivered webhooks.",
        "# TYPE throughcare_webhook_delivery_seconds histogram",
    ]
    for bound, count in zip(LATENCY_BUCKETS_MS, row[: len(LATENCY_BUCKETS_MS)], strict=True):
        le = f"{bound / 1000:g}"
        lines.append(f'throughcare_webhook_delivery_seconds_bucket{{le="{le}"}} {int(count or 0)}')
    total, total_ms = row[len(LATENCY_BUCKETS_MS)], row[len(LATENCY_BUCKETS_MS) + 1]
    lines += [
        f'throughcare_webhook_delivery_seconds_bucket{{le="+Inf"}} {int(total or 0)}',
        f"throughcare_webhook_delivery_seconds_sum {(total_ms or 0) / 1000:g}",
        f"throughcare_webhook_delivery_seconds_count {int(total or 0)}",
    ]
    return "\n".join(lines) + "\n"


def delivery_metrics() -> str:
    """The webhook metrics, or nothing when the database cannot be read (metrics stay up)."""
    try:
        engine = get_engine()
        with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            conn.execute(text("SELECT 1"))
            with Session(bind=conn) as session:
                return render_delivery_metrics(session)
    except SQLAlchemyError:
        log.warning("webhook metrics unavailable: database not reachable")
        return ""
