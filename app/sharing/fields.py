"""The one field -> category map. Redaction reads it; nothing else decides what a field is.

Fields named in METADATA_FIELDS describe the record itself (ids, versions, timestamps,
the recording organisation) and are not personal data; every other field of a response
must be mapped here, and a test fails when a response model has an unmapped field.
"""

from app.sharing.categories import Category

METADATA_FIELDS: frozenset[str] = frozenset(
    {"id", "version", "participant_id", "source_org_id", "created_at", "updated_at", "withheld"}
)

PARTICIPANT_FIELDS: dict[str, Category] = {
    "given_name": Category.identity,
    "family_name": Category.identity,
    "preferred_name": Category.identity,
    "preferred_address": Category.identity,
    "date_of_birth": Category.identity,
    "nhs_number": Category.identity,
    "prison_number": Category.identity,
    "probation_crn": Category.identity,
    "phone": Category.contact,
    "email": Category.contact,
    "address": Category.contact,
    "gender": Category.protected_characteristics,
    "ethnicity": Category.protected_characteristics,
    "religion": Category.protected_characteristics,
    "disability": Category.protected_characteristics,
    "establishment": Category.custody,
    "expected_release_date": Category.custody,
    "actual_release_date": Category.custody,
    "licence_end_date": Category.custody,
    "phase": Category.custody,
    "intervention_start": Category.plan,
    "intervention_end": Category.plan,
    "lead_practitioner_id": Category.plan,
}

# Records that belong to one category as a whole (shown or withheld entirely).
RECORD_CATEGORIES: dict[str, Category] = {
    "care_team_member": Category.plan,
    "goal": Category.plan,
    "action": Category.plan,
    "review": Category.plan,
    "plan_version": Category.plan,
    "appointment": Category.appointments,
    "risk_alert": Category.risk,
    "screening": Category.mental_health,
    "referral": Category.referrals,
}

FIELD_MAPS: dict[str, dict[str, Category]] = {"participant": PARTICIPANT_FIELDS}


def categories_of(resource: str, fields: list[str] | set[str]) -> set[Category]:
    """The categories the named fields of a resource belong to."""
    mapping = FIELD_MAPS[resource]
    return {mapping[f] for f in fields if f in mapping}
