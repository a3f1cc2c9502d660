"""Per-request check that a token's account and organisation are still active.

The truth is in the database, so deactivating a user, client or organisation on any
instance stops its tokens on every instance once this process's short cache entry
expires (`THROUGHCARE_ACTIVE_CHECK_CACHE_SECONDS`, default 3 s, 0 checks every request).
The instance that made the change forgets its entries at once (`forget_all`).
"""

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Table, bindparam, or_, select
from sqlmodel import Session

from app.core.settings import get_settings
from app.models.organisation import ApiClient, Organisation, Role, User
from app.sharing.fastsql import Prepared


@dataclass(frozen=True)
class Subject:
    """What a token says about who it is; every field is compared with the database."""

    token_type: str
    org_id: uuid.UUID
    role: str
    user_id: uuid.UUID | None = None
    participant_id: uuid.UUID | None = None
    client_id: str | None = None
    # The account's credentials version the token was issued under (claim `cv`).
    credentials_version: int = 0


class _ActiveCache:
    """Recent answers per subject, each kept for the configured number of seconds."""

    def __init__(self, size: int = 50_000) -> None:
        self._size = size
        self._items: OrderedDict[Subject, tuple[float, bool]] = OrderedDict()
        self._lock = threading.Lock()

    def answer(self, subject: Subject, ttl: float, load: Callable[[], bool]) -> bool:
        """The cached answer while fresh, else `load()` (remembered for `ttl` seconds)."""
        if ttl <= 0:
            return load()
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(subject)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = load()
        with self._lock:
            self._items[subject] = (now + ttl, value)
            self._items.move_to_end(subject)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value

    def fresh(self, subject: Subject) -> bool | None:
        """The cached answer while fresh, else None (no database work: safe on the loop)."""
        with self._lock:
            hit = self._items.get(subject)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return None

    def forget_all(self) -> None:
        """Drop every answer (after a deactivation here, so this instance acts at once)."""
        with self._lock:
            self._items.clear()


active_cache = _ActiveCache()


_users: Table = User.__table__  # type: ignore[attr-defined]
_clients: Table = ApiClient.__table__  # type: ignore[attr-defined]
_orgs: Table = Organisation.__table__  # type: ignore[attr-defined]

# Fixed statements (one indexed lookup and the organisation's row), prepared once: a cache
# miss pays only for execution. A row comes back only while everything still holds.
_USER_ACTIVE_SQL = Prepared(
    select(_users.c.id)
    .join(_orgs, _orgs.c.id == _users.c.organisation_id)
    .where(
        _users.c.id == bindparam("user_id"),
        _users.c.active.is_(True),
        _orgs.c.active.is_(True),
        _users.c.organisation_id == bindparam("org_id"),
        _users.c.role == bindparam("role"),
        or_(_users.c.role != Role.participant, _users.c.participant_id == bindparam("ptp")),
        _users.c.credentials_version == bindparam("cv"),
    )
)
_CLIENT_ACTIVE_SQL = Prepared(
    select(_clients.c.id)
    .join(_orgs, _orgs.c.id == _clients.c.organisation_id)
    .where(
        _clients.c.client_id == bindparam("client_id"),
        _clients.c.active.is_(True),
        _orgs.c.active.is_(True),
        _clients.c.organisation_id == bindparam("org_id"),
    )
)


def _user_active(conn: Connection, subject: Subject) -> bool:
    params = {
        "user_id": subject.user_id,
        "org_id": subject.org_id,
        "role": subject.role,
        "ptp": subject.participant_id,
        "cv": subject.credentials_version,
    }
    return bool(_USER_ACTIVE_SQL.run(conn, params))


def _client_active(conn: Connection, subject: Subject) -> bool:
    params = {"client_id": subject.client_id, "org_id": subject.org_id}
    return bool(_CLIENT_ACTIVE_SQL.run(conn, params))


def subject_is_active(session: Session, subject: Subject) -> bool:
    """True while the token's account (user or client) and organisation are active and
    still match the token (same organisation, role and participant, and, for a user, the
    credentials version: a password change ends the tokens issued before it)."""
    if subject.user_id is not None:
        loader = _user_active
    elif subject.client_id is not None:
        loader = _client_active
    else:
        return False
    ttl = get_settings().active_check_cache_seconds
    # In the request's own session: a second connection would not see its transaction.
    return active_cache.answer(subject, ttl, lambda: loader(session.connection(), subject))
