"""Typed access requirements: a SharingGate for a caller holding the named scopes."""

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Security

from app.auth.caller import Caller, get_caller
from app.auth.scopes import Scope
from app.core.db import DbSession
from app.sharing.gate import SharingGate


def gate_with(*scopes: Scope) -> Any:
    """A dependency giving the request's SharingGate once the token holds `scopes`.

    The gate's audit scope wraps the endpoint: its events are appended before the session
    dependency commits, and a failed request's denials are written after its rollback.
    """

    def _gate(
        session: DbSession,
        caller: Annotated[Caller, Security(get_caller, scopes=[s.value for s in scopes])],
    ) -> Iterator[SharingGate]:
        # A sync generator: FastAPI runs the audit flush (database writes) in the thread
        # pool, like the session's commit (docs/decisions/0001).
        with SharingGate(session, caller).auditing() as gate:
            yield gate

    dependency: Callable[..., Iterator[SharingGate]] = _gate
    return Depends(dependency, scope="function")


ParticipantsRead = Annotated[SharingGate, gate_with(Scope.participants_read)]
ParticipantsWrite = Annotated[SharingGate, gate_with(Scope.participants_write)]
ConsentsRead = Annotated[SharingGate, gate_with(Scope.consents_read)]
ConsentsWrite = Annotated[SharingGate, gate_with(Scope.consents_write)]
AuditRead = Annotated[SharingGate, gate_with(Scope.audit_read)]
BreakGlassGate = Annotated[SharingGate, gate_with(Scope.break_glass)]
PlansRead = Annotated[SharingGate, gate_with(Scope.plans_read)]
PlansWrite = Annotated[SharingGate, gate_with(Scope.plans_write)]
RecordsRead = Annotated[SharingGate, gate_with(Scope.records_read)]
RecordsWrite = Annotated[SharingGate, gate_with(Scope.records_write)]
ReferralsRead = Annotated[SharingGate, gate_with(Scope.referrals_read)]
ReferralsWrite = Annotated[SharingGate, gate_with(Scope.referrals_write)]
AdminGate = Annotated[SharingGate, gate_with(Scope.admin)]
DirectoryWrite = Annotated[SharingGate, gate_with(Scope.directory_write)]
