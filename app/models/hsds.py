"""Open Referral HSDS 3.0 responses: the page envelope and the API meta information."""

from typing import Any

from pydantic import BaseModel, Field


class HsdsPage(BaseModel):
    """One page of Open Referral HSDS 3.0 `service` objects, in HSDS's `Page` envelope.

    Pages are numbered from 1 (`page`, `per_page`), as HSDS and Open Referral UK feeds
    are; `contents` holds the services, sorted by name.
    """

    total_items: int = Field(description="How many services match, over all pages.")
    total_pages: int = Field(description="How many pages there are at this `per_page`.")
    page_number: int = Field(description="The number of this page (the first is 1).")
    size: int = Field(description="How many services are on this page.")
    first_page: bool = Field(description="True on page 1.")
    last_page: bool = Field(description="True when there is no page after this one.")
    empty: bool = Field(description="True when this page holds no services.")
    contents: list[dict[str, Any]] = Field(
        description="HSDS 3.0 `service` objects (see https://docs.openreferral.org). "
        "Fields we hold no value for are left out, never null."
    )


class HsdsMeta(BaseModel):
    """What this Open Referral feed is (HSDS's `GET /` answer)."""

    version: str = Field(description="The HSDS version the feed follows.")
    profile: str = Field(description="Where the HSDS profile this feed follows is described.")
    openapi_url: str | None = Field(
        default=None,
        description="Where this API's OpenAPI document is served (left out when the "
        "server does not publish it: THROUGHCARE_DOCS_ENABLED=false).",
    )
