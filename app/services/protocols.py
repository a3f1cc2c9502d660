"""Information-sharing protocols: create, list, and new versions (old ones stay readable)."""

import uuid

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.core.errors import Conflict, NotFound
from app.core.pagination import PageParams, paginate
from app.models.sharing import ProtocolWrite, SharingProtocol
from app.sharing import policy
from app.sharing.gate import SharingGate


def _may_manage(gate: SharingGate, data: ProtocolWrite, action: str) -> None:
    verdict = policy.may_manage_protocol(gate.actor, source_org_id=data.source_org_id)
    gate.authorize(verdict, action, "sharing_protocol")


def create_protocol(gate: SharingGate, data: ProtocolWrite) -> SharingProtocol:
    """A new protocol at version 1."""
    session, caller = gate.session, gate.caller
    _may_manage(gate, data, "create")
    row = SharingProtocol(
        **data.model_dump(),
        protocol_id=uuid.uuid4(),
        version=1,
        is_current=True,
        created_by=caller.subject,
    )
    session.add(row)
    session.flush()
    return row


def protocol_version(
    session: Session, protocol_id: uuid.UUID, version: int | None = None
) -> SharingProtocol:
    """The current version of a protocol, or the named one."""
    stmt = select(SharingProtocol).where(SharingProtocol.protocol_id == protocol_id)
    if version is None:
        stmt = stmt.where(col(SharingProtocol.is_current).is_(True))
    else:
        stmt = stmt.where(SharingProtocol.version == version)
    row = session.exec(stmt).first()
    if row is None:
        raise NotFound("No such protocol (or version).")
    return row


def revise_protocol(
    gate: SharingGate, protocol_id: uuid.UUID, data: ProtocolWrite
) -> SharingProtocol:
    """Replace a protocol by a new version; the old version stays readable for the audit."""
    session, caller = gate.session, gate.caller
    current = protocol_version(session, protocol_id)
    _may_manage(
        gate,
        ProtocolWrite.model_validate(current.model_dump(include=set(ProtocolWrite.model_fields))),
        "revise",
    )
    _may_manage(gate, data, "revise")
    current.is_current = False
    session.add(current)
    session.flush()
    row = SharingProtocol(
        **data.model_dump(),
        protocol_id=protocol_id,
        version=current.version + 1,
        is_current=True,
        created_by=caller.subject,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict("The protocol was revised by someone else; read it again.") from None
    return row


def list_protocols(
    session: Session, paging: PageParams, include_history: bool = False
) -> tuple[list[SharingProtocol], str | None]:
    """Protocols (current versions unless history is asked for)."""
    stmt = select(SharingProtocol)
    if not include_history:
        stmt = stmt.where(col(SharingProtocol.is_current).is_(True))
    return paginate(session, stmt, [SharingProtocol.created_at, SharingProtocol.row_id], paging)
