"""Information-sharing protocols: versioned agreements between organisations."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from app.auth.guards import AUTH_ERRORS, AnyCaller
from app.core.db import DbSession
from app.core.errors import Conflict, Forbidden, NotFound, error_responses
from app.core.pagination import Page, Paging
from app.models.sharing import ProtocolRead, ProtocolWrite
from app.services import protocols
from app.sharing.deps import AdminGate

router = APIRouter(
    prefix="/api/v1/sharing/protocols", tags=["sharing protocols"], responses=AUTH_ERRORS
)


@router.get("", response_model=Page[ProtocolRead])
def list_protocols(
    caller: AnyCaller,
    session: DbSession,
    paging: Paging,
    history: Annotated[bool, Query(description="Include superseded versions")] = False,
) -> Page[ProtocolRead]:
    """Sharing protocols in force or planned (not personal data: any caller may read)."""
    rows, cursor = protocols.list_protocols(session, paging, history)
    return Page(items=[ProtocolRead.model_validate(r) for r in rows], next_cursor=cursor)


@router.post(
    "",
    response_model=ProtocolRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Forbidden),
)
def create_protocol(gate: AdminGate, data: ProtocolWrite) -> ProtocolRead:
    """Record a new information-sharing protocol (version 1)."""
    return ProtocolRead.model_validate(protocols.create_protocol(gate, data))


@router.get("/{protocol_id}", response_model=ProtocolRead, responses=error_responses(NotFound))
def read_protocol(
    caller: AnyCaller,
    session: DbSession,
    protocol_id: uuid.UUID,
    version: Annotated[int | None, Query(ge=1, le=1_000_000, description="A past version")] = None,
) -> ProtocolRead:
    """The current version of a protocol, or the one named by `version`."""
    return ProtocolRead.model_validate(protocols.protocol_version(session, protocol_id, version))


@router.put(
    "/{protocol_id}",
    response_model=ProtocolRead,
    responses=error_responses(NotFound, Forbidden, Conflict),
)
def revise_protocol(gate: AdminGate, protocol_id: uuid.UUID, data: ProtocolWrite) -> ProtocolRead:
    """Replace a protocol by a new version; the old one stays readable."""
    return ProtocolRead.model_validate(protocols.revise_protocol(gate, protocol_id, data))
