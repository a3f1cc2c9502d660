"""Optimistic concurrency: ETag on reads, If-Match required on updates.

Two kinds of tag. A record that a caller sees whole or not at all (a goal, a step, an
appointment) is tagged by its version. A record or aggregate that callers see in part
(a participant's categories, a plan's goals recorded by several organisations) is tagged
by a hash of the representation the caller was given: the tag moves when something the
caller may see moves, and never because of something withheld from them. For If-Match
that is the right precondition too: a writer only changes what it may see, so "what I
saw is still what is there" is exactly the condition for a change without a lost update.
"""

import hashlib

from app.core.errors import PreconditionFailed, PreconditionRequired


def etag_for(kind: str, version: int) -> str:
    """The strong ETag of one version of a record."""
    return f'"{kind}-{version}"'


def etag_of(kind: str, representation: bytes) -> str:
    """The strong ETag of one caller's representation of a record (what it may see)."""
    return f'"{kind}-{hashlib.sha256(representation).hexdigest()[:32]}"'


def check_etag(if_match: str | None, current: str) -> None:
    """428 when If-Match is missing; 412 when it names another tag than `current`."""
    if not if_match:
        raise PreconditionRequired("Send If-Match with the ETag from your last read.")
    offered = [tag.strip().removeprefix("W/") for tag in if_match.split(",")]
    if "*" not in offered and current not in offered:
        raise PreconditionFailed(
            "The record has changed since you read it; read it again and retry."
        )


def check_if_match(if_match: str | None, kind: str, version: int) -> None:
    """428 when If-Match is missing; 412 when it names another version."""
    check_etag(if_match, etag_for(kind, version))
