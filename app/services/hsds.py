"""The directory as Open Referral HSDS 3.0 JSON: services, and pages of them.

What maps where: `eligibility` -> `eligibility_description`; `how_to_refer` ->
`application_process`; `last_verified_at` -> `assured_date`; opening hours are weekly
`schedules` (RFC 5545 `byday`); categories and the setting are `attributes` linking a
taxonomy term (`throughcare-service-category`, `throughcare-setting`); exclusions and
criminal-record exclusions are attributes whose `value` is the free text; referral intake
through Throughcare is an attribute with the value `true` or `false`; a free-text address
is a `physical` location whose `description` holds the text (HSDS addresses need a city,
region and postcode we do not hold).

HSDS 3.0 fields are never null: a field we have no value for (or whose value is not a
valid `uri`/`email`) is left out. Every nested object has an `id`: a UUID derived from the
service id (or, for a taxonomy term, from its taxonomy and code), so the same entry gives
the same ids on every read.
"""

import math
import re
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.models.directory import Service, ServiceRead
from app.services.directory import ServiceSearch, search_statement, service_views

# Fixed namespace for ids derived from ours (uuid5), so they never change between reads.
_NAMESPACE = uuid.UUID("4f0cf3a4-1c39-5b0e-9d5e-7a9b2c0e6f31")
_BYDAY = {
    "monday": "MO",
    "tuesday": "TU",
    "wednesday": "WE",
    "thursday": "TH",
    "friday": "FR",
    "saturday": "SA",
    "sunday": "SU",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
HSDS_VERSION = "3.0"
CATEGORY = "throughcare-service-category"
SETTING = "throughcare-setting"
EXCLUSION = "throughcare-exclusion"
CRIMINAL_RECORD_EXCLUSION = "throughcare-criminal-record-exclusion"
REFERRAL_INTAKE = "throughcare-referral-intake"
_TERM_DESCRIPTIONS = {
    EXCLUSION: "People the service cannot accept (the attribute's value says who).",
    CRIMINAL_RECORD_EXCLUSION: "Offences that exclude a person from the service (the "
    "attribute's value says which).",
    REFERRAL_INTAKE: "Whether the service takes referrals through Throughcare (value "
    "`true` or `false`).",
}


def derived_id(*parts: object) -> str:
    """A stable UUID for an HSDS object that has no id of its own in Throughcare."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(str(p) for p in parts)))


def _term(taxonomy: str, code: str, description: str) -> dict[str, Any]:
    return {
        "id": derived_id("taxonomy_term", taxonomy, code),
        "code": code,
        "name": code.replace("_", " "),
        "description": description,
        "taxonomy": taxonomy,
    }


def _attribute(
    service_id: str, taxonomy: str, code: str, description: str, value: str | None = None
) -> dict[str, Any]:
    term = _term(taxonomy, code, description)
    attribute: dict[str, Any] = {
        "id": derived_id(service_id, "attribute", taxonomy, code, value or ""),
        "link_id": service_id,
        "link_type": "service",
        "link_entity": "service",
        "taxonomy_term_id": term["id"],
        "taxonomy_term": term,
    }
    if value is not None:
        attribute["value"] = value
    return attribute


def _attributes(service: ServiceRead, sid: str) -> list[dict[str, Any]]:
    out = [
        _attribute(sid, CATEGORY, str(c), f"Services for {str(c).replace('_', ' ')}.")
        for c in service.categories
    ]
    out.append(_attribute(sid, SETTING, str(service.setting), f"Offered in: {service.setting}."))
    out += [
        _attribute(sid, EXCLUSION, "exclusion", _TERM_DESCRIPTIONS[EXCLUSION], text)
        for text in service.exclusions
    ]
    out += [
        _attribute(
            sid,
            CRIMINAL_RECORD_EXCLUSION,
            "criminal_record_exclusion",
            _TERM_DESCRIPTIONS[CRIMINAL_RECORD_EXCLUSION],
            text,
        )
        for text in service.criminal_record_exclusions
    ]
    accepts = "true" if service.accepts_throughcare_referrals else "false"
    out.append(
        _attribute(
            sid,
            REFERRAL_INTAKE,
            "accepts_throughcare_referrals",
            _TERM_DESCRIPTIONS[REFERRAL_INTAKE],
            accepts,
        )
    )
    return out


def _schedules(service: ServiceRead, sid: str) -> list[dict[str, Any]]:
    return [
        {
            "id": derived_id(sid, "schedule", p.weekday, p.opens, p.closes),
            "service_id": sid,
            "freq": "WEEKLY",
            "wkst": "MO",
            "byday": _BYDAY[p.weekday],
            "opens_at": p.opens,
            "closes_at": p.closes,
        }
        for p in service.opening_hours
    ]


def _locations(service: ServiceRead, sid: str) -> list[dict[str, Any]]:
    if not service.address:
        return []
    location_id = derived_id(sid, "location")
    return [
        {
            "id": derived_id(sid, "service_at_location"),
            "service_id": sid,
            "location_id": location_id,
            "location": {
                "id": location_id,
                "location_type": "physical",
                "description": service.address,
            },
        }
    ]


def _is_uri(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in {"http", "https"} and bool(parts.netloc) and " " not in text


def hsds_service(service: ServiceRead, *, full: bool = True) -> dict[str, Any]:
    """One directory entry as an HSDS 3.0 `service` (`full=False`: one-to-one fields only,
    the shape of an HSDS `service_list` item)."""
    sid = str(service.id)
    org_id = str(service.provider_org_id)
    out: dict[str, Any] = {
        "id": sid,
        "organization_id": org_id,
        "name": service.name,
        "description": service.description,
        "status": "active" if service.active else "inactive",
        "assured_date": service.last_verified_at.date().isoformat(),
        "last_modified": service.updated_at.isoformat(),
        "organization": {
            "id": org_id,
            "name": service.provider_name or "",
            "description": "The organisation that provides this service.",
        },
    }
    if service.website and _is_uri(service.website):
        out["url"] = service.website
    if service.email and _EMAIL.match(service.email):
        out["email"] = service.email
    if service.eligibility:
        out["eligibility_description"] = service.eligibility
    if service.how_to_refer:
        out["application_process"] = service.how_to_refer
    if not full:
        return out
    out["phones"] = (
        [{"id": derived_id(sid, "phone"), "service_id": sid, "number": service.phone}]
        if service.phone
        else []
    )
    out["schedules"] = _schedules(service, sid)
    out["service_at_locations"] = _locations(service, sid)
    out["attributes"] = _attributes(service, sid)
    return out


def hsds_page(
    session: Session,
    search: ServiceSearch,
    *,
    page: int,
    per_page: int,
    full: bool,
    now: datetime,
) -> dict[str, Any]:
    """One HSDS 3.0 `Page` of directory entries (by name), numbered from 1."""
    statement = search_statement(search, now)
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    rows = session.exec(
        statement.order_by(col(Service.name), col(Service.id))
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    contents = [hsds_service(v, full=full) for v in service_views(session, list(rows), now)]
    pages = math.ceil(total / per_page)
    return {
        "total_items": total,
        "total_pages": pages,
        "page_number": page,
        "size": len(contents),
        "first_page": page == 1,
        "last_page": page >= pages,
        "empty": not contents,
        "contents": contents,
    }
