"""Evidence from the care record (shared action plan, appointments) for release readiness.

The care-record tables (goals, actions, appointments) are built on another branch; until
they are merged here, every function answers `not_recorded`: "this system does not hold
that evidence yet", which is different from "not met" and from "withheld". Each function
is the one place to implement its check against the care record, through the gate.
"""

from dataclasses import dataclass
from datetime import date

from app.models.participant import Participant
from app.models.readiness import ReadinessStatus
from app.sharing.gate import SharingGate


@dataclass(frozen=True)
class Evidence:
    status: ReadinessStatus
    ids: tuple[str, ...] = ()
    note: str | None = None


NOT_RECORDED = Evidence(
    ReadinessStatus.not_recorded,
    note="Not yet recorded in this system (the shared action plan and appointments).",
)


def goal_with_done_action(
    gate: SharingGate, participant: Participant, life_domain: str
) -> Evidence:
    """A goal in `life_domain` with at least one action done (plan category)."""
    return NOT_RECORDED


def medication_arranged(gate: SharingGate, participant: Participant) -> Evidence:
    """A done plan action arranging medication on release (plan category)."""
    return NOT_RECORDED


def gate_meeting(
    gate: SharingGate, participant: Participant, release_date: date | None
) -> Evidence:
    """A peer or practitioner appointment on the release date (appointments category)."""
    return NOT_RECORDED


def reporting_instructions_given(gate: SharingGate, participant: Participant) -> Evidence:
    """A done action or probation appointment giving reporting instructions."""
    return NOT_RECORDED
