"""Data categories (the unit of sharing) and purposes of use."""

from enum import StrEnum


class Category(StrEnum):
    identity = "identity"
    contact = "contact"
    protected_characteristics = "protected_characteristics"
    custody = "custody"
    mental_health = "mental_health"
    substance_use = "substance_use"
    risk = "risk"
    social = "social"
    plan = "plan"
    referrals = "referrals"
    appointments = "appointments"


ALL_CATEGORIES: frozenset[Category] = frozenset(Category)


class Purpose(StrEnum):
    """Why the caller is asking; sent as the `X-Purpose` header (default direct_care)."""

    direct_care = "direct_care"
    safeguarding = "safeguarding"
    risk_management = "risk_management"
    public_protection = "public_protection"
