"""Optimistic concurrency: ETag on reads, If-Match required on updates."""

from app.core.errors import PreconditionFailed, PreconditionRequired


def etag_for(kind: str, version: int) -> str:
    """The strong ETag of one version of a record."""
    return f'"{kind}-{version}"'


def check_if_match(if_match: str | None, kind: str, version: int) -> None:
    """428 when If-Match is missing; 412 when it names another version."""
    if not if_match:
        raise PreconditionRequired("Send If-Match with the ETag from your last read.")
    current = etag_for(kind, version)
    offered = [tag.strip().removeprefix("W/") for tag in if_match.split(",")]
    if "*" not in offered and current not in offered:
        raise PreconditionFailed(
            "The record has changed since you read it; read it again and retry."
        )
