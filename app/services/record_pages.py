"""Pages of one participant's whole-record category (alerts, screenings, appointments).

The gate decides per recording organisation first, over grouped counts; content filters
(status, instrument, cancelled) then apply only to the records the caller may see. So the
withheld counts are the same whatever the filter: a filter cannot be used to learn how
many hidden records are open, closed, PHQ-9 or GAD-7.
"""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from app.core.pagination import PageParams, paginate
from app.models.listing import WithheldCountRead
from app.sharing.categories import Category
from app.sharing.gate import SharingGate


def decide_sources(
    gate: SharingGate,
    participant_id: uuid.UUID,
    model: Any,
    category: Category,
    *,
    resource: str,
) -> tuple[list[uuid.UUID], list[WithheldCountRead]]:
    """The recording organisations of `model` rows whose records the caller may see, and
    counts of all the others' records by reason (decided once per organisation)."""
    groups = gate.session.exec(
        select(model.source_org_id, func.count())
        .where(model.participant_id == participant_id)
        .group_by(model.source_org_id)
    ).all()
    return decide_groups(gate, participant_id, groups, category, resource=resource)


def decide_groups(
    gate: SharingGate,
    participant_id: uuid.UUID,
    groups: Sequence[tuple[uuid.UUID, int]],
    category: Category,
    *,
    resource: str,
) -> tuple[list[uuid.UUID], list[WithheldCountRead]]:
    """`decide_sources` for (recording organisation, record count) groups already read."""
    allowed: list[uuid.UUID] = []
    hidden: dict[str, int] = {}
    hidden_groups = []
    for group in groups:
        source_org_id, count = group
        decision = gate.decide(participant_id, category, source_org_id)
        if decision.allowed:
            allowed.append(source_org_id)
        else:
            hidden_groups.append(group)
            reason = getattr(decision, "reason", "withheld")
            hidden[reason] = hidden.get(reason, 0) + int(count)
    if not allowed:
        # Nothing of the category will be shown: the audit row says it was withheld, and
        # why (as the gate does for any list of records none of which may be shown).
        gate.filter_records(
            participant_id,
            hidden_groups,
            category,
            lambda g: g[0],
            resource=resource,
            action="list",
        )
    withheld = [
        WithheldCountRead(category=str(category), reason=reason, count=n)
        for reason, n in sorted(hidden.items())
    ]
    return allowed, withheld


def gated_record_page(
    gate: SharingGate,
    participant_id: uuid.UUID,
    model: Any,
    category: Category,
    keys: Sequence[Any],
    paging: PageParams,
    *,
    resource: str,
    filters: Sequence[Any] = (),
) -> tuple[list[Any], str | None, list[WithheldCountRead]]:
    """One page of the visible records matching `filters`, and counts of all hidden ones."""
    allowed, withheld = decide_sources(gate, participant_id, model, category, resource=resource)
    # Run even when nothing is allowed (IN () matches no row): the cursor is still checked.
    stmt = select(model).where(
        model.participant_id == participant_id,
        col(model.source_org_id).in_(allowed),
        *filters,
    )
    rows, cursor = paginate(gate.session, stmt, keys, paging, descending=True)
    shown, _ = gate.filter_records(
        participant_id,
        rows,
        category,
        lambda r: r.source_org_id,
        resource=resource,
        action="list",
    )
    return shown, cursor, withheld
