"""The service directory: search, edit, stale entries and the HSDS export.

Directory entries describe services, not people, so any authenticated caller reads them;
only the provider's org admin or a system admin edits them.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, exists, func, or_
from sqlmodel import Session, col, select

from app.core.errors import NotFound, Unprocessable
from app.core.pagination import PageParams, paginate
from app.core.settings import get_settings
from app.models.base import utcnow
from app.models.directory import (
    WEEKDAY_NAMES,
    OpeningHours,
    Service,
    ServiceCreate,
    ServiceHours,
    ServiceRead,
    ServiceUpdate,
    Setting,
    Weekday,
)
from app.models.organisation import Organisation
from app.sharing import policy
from app.sharing.gate import SharingGate


@dataclass(frozen=True)
class ServiceSearch:
    setting: Setting | None = None
    category: str | None = None
    text: str | None = None
    open_day: Weekday | None = None
    open_at: str | None = None
    accepting_referrals: bool | None = None
    provider_org_id: uuid.UUID | None = None
    stale: bool | None = None
    include_inactive: bool = False


def stale_before(now: datetime) -> datetime:
    """Entries verified before this moment are stale."""
    return now - timedelta(days=get_settings().directory_stale_days)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_statement(search: ServiceSearch, now: datetime) -> Any:
    """The directory entries matching `search` (unordered, unpaged)."""
    stmt = select(Service)
    if not search.include_inactive:
        stmt = stmt.where(col(Service.active).is_(True))
    if search.setting is not None:
        # A service offered in both settings is found by either.
        stmt = stmt.where(col(Service.setting).in_([search.setting, Setting.both]))
    if search.category is not None:
        stmt = stmt.where(cast(Service.categories, String).like(f'%"{search.category}"%'))
    if search.text:
        pattern = f"%{_like_escape(search.text.lower())}%"
        stmt = stmt.where(
            or_(
                func.lower(Service.name).like(pattern, escape="\\"),
                func.lower(Service.description).like(pattern, escape="\\"),
            )
        )
    if search.open_day is not None or search.open_at is not None:
        clauses = [col(ServiceHours.service_id) == Service.id]
        if search.open_day is not None:
            clauses.append(col(ServiceHours.weekday) == int(search.open_day))
        if search.open_at is not None:
            clauses += [
                col(ServiceHours.opens) <= search.open_at,
                col(ServiceHours.closes) > search.open_at,
            ]
        stmt = stmt.where(exists().where(*clauses))
    if search.accepting_referrals is not None:
        stmt = stmt.where(
            col(Service.accepts_throughcare_referrals).is_(search.accepting_referrals)
        )
    if search.provider_org_id is not None:
        stmt = stmt.where(Service.provider_org_id == search.provider_org_id)
    if search.stale is not None:
        threshold = stale_before(now)
        stmt = stmt.where(
            col(Service.last_verified_at) < threshold
            if search.stale
            else col(Service.last_verified_at) >= threshold
        )
    return stmt


def _hours_of(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[ServiceHours]]:
    out: dict[uuid.UUID, list[ServiceHours]] = {i: [] for i in ids}
    if ids:
        rows = session.exec(
            select(ServiceHours)
            .where(col(ServiceHours.service_id).in_(ids))
            .order_by(col(ServiceHours.weekday), col(ServiceHours.opens))
        ).all()
        for row in rows:
            out[row.service_id].append(row)
    return out


def _provider_names(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = session.exec(
        select(Organisation.id, Organisation.name).where(col(Organisation.id).in_(list(ids)))
    ).all()
    return dict(rows)


def service_views(session: Session, rows: list[Service], now: datetime) -> list[ServiceRead]:
    """Directory entries with hours, closed days, weekend gap and staleness worked out."""
    hours = _hours_of(session, [r.id for r in rows])
    names = _provider_names(session, {r.provider_org_id for r in rows})
    threshold = stale_before(now)
    views = []
    for row in rows:
        periods = hours[row.id]
        open_days = {p.weekday for p in periods}
        closed = [WEEKDAY_NAMES[d] for d in range(7) if d not in open_days]
        views.append(
            ServiceRead.model_validate(
                {
                    **row.model_dump(),
                    "provider_name": names.get(row.provider_org_id),
                    "opening_hours": [
                        OpeningHours(
                            weekday=WEEKDAY_NAMES[p.weekday], opens=p.opens, closes=p.closes
                        )
                        for p in periods
                    ],
                    "closed_days": closed,
                    "weekend_gap": "saturday" in closed or "sunday" in closed,
                    "stale": row.last_verified_at < threshold,
                }
            )
        )
    return views


def search_services(
    session: Session, search: ServiceSearch, paging: PageParams, now: datetime
) -> tuple[list[ServiceRead], str | None]:
    """One page of directory entries matching the search, by name."""
    rows, cursor = paginate(
        session, search_statement(search, now), [Service.name, Service.id], paging
    )
    return service_views(session, rows, now), cursor


def get_service(session: Session, service_id: uuid.UUID) -> Service:
    """One directory entry, or 404."""
    row = session.get(Service, service_id)
    if row is None:
        raise NotFound("No such service.")
    return row


def _may_edit(gate: SharingGate, provider_org_id: uuid.UUID, action: str) -> None:
    verdict = policy.may_edit_service(gate.actor, provider_org_id=provider_org_id)
    gate.authorize(verdict, action, "service")


def _set_hours(session: Session, service_id: uuid.UUID, hours: list[OpeningHours]) -> None:
    for old in session.exec(select(ServiceHours).where(ServiceHours.service_id == service_id)):
        session.delete(old)
    session.flush()
    for period in hours:
        session.add(
            ServiceHours(
                service_id=service_id,
                weekday=WEEKDAY_NAMES.index(period.weekday),
                opens=period.opens,
                closes=period.closes,
            )
        )


def create_service(gate: SharingGate, data: ServiceCreate) -> ServiceRead:
    """Add a directory entry for the caller's organisation (system admins: any provider)."""
    session, caller = gate.session, gate.caller
    provider = data.provider_org_id or caller.org_id
    _may_edit(gate, provider, "create")
    org = session.get(Organisation, provider)
    if org is None or not org.active:
        raise Unprocessable("provider_org_id is not an active organisation.")
    values = data.model_dump(exclude={"provider_org_id", "opening_hours"})
    row = Service(**values, provider_org_id=provider, created_by=caller.subject)
    session.add(row)
    session.flush()
    _set_hours(session, row.id, data.opening_hours)
    session.flush()
    return service_views(session, [row], utcnow())[0]


def update_service(gate: SharingGate, row: Service, data: ServiceUpdate) -> ServiceRead:
    """Change a directory entry; `verified` also marks it checked now."""
    session = gate.session
    _may_edit(gate, row.provider_org_id, "update")
    changes = data.model_dump(exclude_unset=True, exclude={"verified", "opening_hours"})
    if not changes and data.opening_hours is None and not data.verified:
        raise Unprocessable("The request changes nothing.")
    for name, value in changes.items():
        if value is None and name in {"name", "setting", "active", "categories"}:
            raise Unprocessable(f"{name} cannot be null.")
        if value is None and name in {"exclusions", "criminal_record_exclusions"}:
            value = []
        if value is None and name == "accepts_throughcare_referrals":
            value = False
        if value is None and name == "description":
            value = ""  # the column is NOT NULL; null clears it, as [] clears the lists
        setattr(row, name, value)
    if data.opening_hours is not None:
        _set_hours(session, row.id, data.opening_hours)
    now = utcnow()
    if data.verified:
        row.last_verified_at = now
    row.version += 1
    row.updated_at = now
    session.add(row)
    session.flush()
    return service_views(session, [row], now)[0]
