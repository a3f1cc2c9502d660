"""The SQLModel tables; importing this package registers every table on the metadata."""

from app.models import (  # noqa: F401
    appointment,
    audit,
    break_glass,
    directory,
    documents,
    endings,
    engagement,
    idempotency,
    notes,
    notice,
    organisation,
    participant,
    plan,
    referral,
    referral_milestones,
    risk,
    screening,
    sharing,
)
