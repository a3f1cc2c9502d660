"""The directory as Open Referral HSDS 3.0-shaped JSON (services with nested organisation).

What maps where: `eligibility` -> `eligibility_description`; exclusions are HSDS
`attributes` under our `throughcare-exclusion` / `throughcare-criminal-record-exclusion`
taxonomies; categories are `attributes` under `throughcare-service-category`; opening
hours are weekly `schedules` (RFC 5545 `byday`); `last_verified_at` is `assured_date`.
"""

from collections.abc import Sequence
from typing import Any

from app.models.directory import ServiceRead

_BYDAY = {
    "monday": "MO",
    "tuesday": "TU",
    "wednesday": "WE",
    "thursday": "TH",
    "friday": "FR",
    "saturday": "SA",
    "sunday": "SU",
}


def _attributes(taxonomy: str, terms: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {"taxonomy_term": {"code": term, "name": term.replace("_", " "), "taxonomy": taxonomy}}
        for term in terms
    ]


def hsds_service(service: ServiceRead) -> dict[str, Any]:
    """One directory entry as an HSDS 3.0 `service` object."""
    sid = str(service.id)
    return {
        "id": sid,
        "organization": {"id": str(service.provider_org_id), "name": service.provider_name},
        "name": service.name,
        "description": service.description,
        "url": service.website,
        "email": service.email,
        "status": "active" if service.active else "inactive",
        "eligibility_description": service.eligibility,
        "application_process": service.how_to_refer,
        "assured_date": service.last_verified_at.date().isoformat(),
        "last_modified": service.updated_at.isoformat(),
        "phones": [{"number": service.phone}] if service.phone else [],
        "service_at_locations": (
            [{"location": {"address": [{"address_1": service.address}]}}] if service.address else []
        ),
        "schedules": [
            {
                "service_id": sid,
                "freq": "WEEKLY",
                "byday": _BYDAY[period.weekday],
                "opens_at": period.opens,
                "closes_at": period.closes,
            }
            for period in service.opening_hours
        ],
        "attributes": (
            _attributes("throughcare-service-category", service.categories)
            + _attributes("throughcare-exclusion", service.exclusions)
            + _attributes(
                "throughcare-criminal-record-exclusion", service.criminal_record_exclusions
            )
            + _attributes("throughcare-setting", [str(service.setting)])
        ),
        "throughcare": {
            "accepts_referrals": service.accepts_throughcare_referrals,
            "closed_days": service.closed_days,
            "weekend_gap": service.weekend_gap,
            "stale": service.stale,
        },
    }
