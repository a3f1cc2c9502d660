"""The one place every read and write of protected data passes through.

A `SharingGate` lives for one request. It finds participants through the SQL
visibility helper (404 for those that do not exist for the caller), asks the pure
decision about each category of each record, redacts, and records one access event per
participant touched. The gate owns the audit flush (`auditing`, entered by the gate
dependency in app/sharing/deps.py): the events are appended to the hash chain just
before the request's transaction commits; when the request fails, its work is rolled
back and the denials are written in their own commit. No audit row, no response.
"""

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlmodel import Session

from app.auth.caller import Caller
from app.core.errors import Forbidden, NotFound
from app.models.participant import Participant
from app.sharing.audit import EventDraft, append_events
from app.sharing.categories import Category
from app.sharing.decision import Allow, Decision, Deny, ParticipantFacts, decide
from app.sharing.facts import (
    caller_facts,
    load_facts,
    load_org_kinds,
)
from app.sharing.fields import FIELD_MAPS, METADATA_FIELDS
from app.sharing.policy import Actor, Refusal, Verdict
from app.sharing.visibility import find_visible_participant, find_visible_snapshot

T = TypeVar("T")
log = logging.getLogger("throughcare.audit")


@dataclass
class _Touch:
    """What one response did with one participant's data."""

    action: str
    resource: str
    resource_id: str | None = None
    disclosed: dict[str, dict[str, Any]] = field(default_factory=dict)
    withheld: dict[str, str] = field(default_factory=dict)
    denied_reason: str | None = None
    succeeded: bool = False  # a write or a governance read: allowed without a category


@dataclass(frozen=True)
class WithheldCount:
    category: str
    reason: str
    count: int


class SharingGate:
    """Filter, redact and audit for one request."""

    def __init__(self, session: Session, caller: Caller, now: datetime | None = None) -> None:
        self.session = session
        self.caller = caller
        self.now = now or datetime.now(UTC)
        self._caller_facts = caller_facts(caller)
        self._protocols: tuple[Any, ...] | None = None
        self._facts: dict[uuid.UUID, ParticipantFacts] = {}
        self._org_kinds: dict[uuid.UUID, str] = {}
        self._touches: dict[uuid.UUID | None, _Touch] = {}
        self._connection: Connection | None = None
        self._finish: Callable[[], None] | None = None
        self.actor = Actor(
            org_id=caller.org_id,
            role=caller.role,
            token_type=caller.token_type,
            subject=caller.subject,
            user_id=caller.user_id,
            participant_id=caller.participant_id,
        )

    # -- finding participants -------------------------------------------------------

    def participant(
        self, participant_id: uuid.UUID, *, action: str = "read", resource: str = "participant"
    ) -> Participant:
        """The participant if they exist for the caller; otherwise 404 (and a denial row)."""
        row = find_visible_participant(self.session, self.caller, participant_id, self.now)
        if row is None:
            self.deny(participant_id, action, resource, "not_visible")
            raise NotFound("No such participant.")
        self.prefetch([row.id], [row.source_org_id])
        return row

    def participant_snapshot(
        self, participant_id: uuid.UUID, *, action: str = "read", resource: str = "participant"
    ) -> SimpleNamespace:
        """For reads: a read-only copy of the participant's columns, if they exist for the
        caller; otherwise 404 (and a denial row). Same visibility as `participant`, found
        in one statement together with the source organisation's kind; not an ORM object,
        so it is never flushed, refreshed or lazy-loaded."""
        found = find_visible_snapshot(self.connection, self.caller, participant_id, self.now)
        if found is None:
            self.deny(participant_id, action, resource, "not_visible")
            raise NotFound("No such participant.")
        row, source_kind = found
        self._org_kinds.setdefault(row.source_org_id, source_kind)
        self.prefetch([row.id])
        return row

    @property
    def connection(self) -> Connection:
        """The request transaction's connection (looked up once: the Session's lookup costs
        more than the hot-path statements themselves)."""
        conn = self._connection
        if conn is None or conn.closed or not conn.in_transaction():
            conn = self._connection = self.session.connection()
        return conn

    def prefetch(
        self, participant_ids: Iterable[uuid.UUID], source_org_ids: Iterable[uuid.UUID] = ()
    ) -> None:
        """Load decision facts for many participants at once (for lists)."""
        missing = [p for p in participant_ids if p not in self._facts]
        if missing or self._protocols is None:
            # One statement: the missing participants' facts, and the caller's protocols
            # on the request's first load.
            self._protocols, facts = load_facts(
                self.connection, self.caller, missing, self.now, self._protocols
            )
            self._facts.update(facts)
        self._know_orgs(source_org_ids)

    def _know_orgs(self, org_ids: Iterable[uuid.UUID]) -> None:
        unknown = {o for o in org_ids if o not in self._org_kinds}
        if unknown:
            self._org_kinds.update(load_org_kinds(self.connection, unknown))

    def facts(self, participant_id: uuid.UUID) -> ParticipantFacts:
        if participant_id not in self._facts:
            self.prefetch([participant_id])
        return self._facts[participant_id]

    # -- deciding -------------------------------------------------------------------

    def decide(
        self, participant_id: uuid.UUID, category: Category | str, source_org_id: uuid.UUID
    ) -> Decision:
        """The decision for one category of one record."""
        if source_org_id not in self._org_kinds:
            self._know_orgs([source_org_id])
        facts = self._facts.get(participant_id)
        if facts is None:
            facts = self.facts(participant_id)
        return decide(
            self._caller_facts,
            facts,
            category,
            source_org_id,
            self._org_kinds.get(source_org_id, ""),
            self.now,
        )

    def _touch(
        self,
        participant_id: uuid.UUID | None,
        action: str,
        resource: str,
        resource_id: str | None = None,
    ) -> _Touch:
        touch = self._touches.get(participant_id)
        if touch is None:
            touch = _Touch(action, resource, resource_id)
            self._touches[participant_id] = touch
        return touch

    def _note(self, touch: _Touch, category: str, decision: Decision) -> None:
        if isinstance(decision, Allow):
            touch.disclosed.setdefault(category, decision.as_basis())
            touch.withheld.pop(category, None)
        elif category not in touch.disclosed:
            touch.withheld[category] = decision.reason

    # -- redacting ------------------------------------------------------------------

    def redact(
        self,
        participant_id: uuid.UUID,
        resource: str,
        values: dict[str, Any],
        source_org_id: uuid.UUID,
        *,
        action: str = "read",
        resource_id: str | None = None,
    ) -> dict[str, Any]:
        """`values` without the fields the caller may not see, plus `withheld`."""
        mapping = FIELD_MAPS[resource]
        touch = self._touch(participant_id, action, resource, resource_id)
        decisions: dict[str, Decision] = {}
        out: dict[str, Any] = {}
        for name, value in values.items():
            if name in METADATA_FIELDS:
                out[name] = value
                continue
            category = mapping.get(name)
            if category is None:
                # Unmapped means unknown: never disclosed (tests keep the map complete).
                continue
            if category not in decisions:
                decisions[category] = self.decide(participant_id, category, source_org_id)
                self._note(touch, category, decisions[category])
            if decisions[category].allowed:
                out[name] = value
        out["withheld"] = [
            {"category": c, "reason": d.reason}
            for c, d in sorted(decisions.items())
            if isinstance(d, Deny)
        ]
        return out

    def filter_records(
        self,
        participant_id: uuid.UUID,
        records: Sequence[T],
        category: Category,
        source_of: Callable[[T], uuid.UUID],
        *,
        resource: str,
        action: str = "read",
    ) -> tuple[list[T], list[WithheldCount]]:
        """The records of one category the caller may see, and counts of the rest."""
        touch = self._touch(participant_id, action, resource)
        shown: list[T] = []
        withheld: dict[str, int] = {}
        for record in records:
            decision = self.decide(participant_id, category, source_of(record))
            if isinstance(decision, Allow):
                shown.append(record)
                touch.disclosed.setdefault(str(category), decision.as_basis())
            else:
                withheld[decision.reason] = withheld.get(decision.reason, 0) + 1
        if withheld and not shown:
            reason = sorted(withheld)[0]
            touch.withheld.setdefault(str(category), reason)
        return shown, [
            WithheldCount(str(category), reason, n) for reason, n in sorted(withheld.items())
        ]

    def require(
        self,
        participant_id: uuid.UUID,
        category: Category,
        source_org_id: uuid.UUID,
        *,
        action: str,
        resource: str,
        resource_id: str | None = None,
    ) -> Allow:
        """Allow, or 404 for a record the caller may not see (it does not exist for them)."""
        decision = self.decide(participant_id, category, source_org_id)
        touch = self._touch(participant_id, action, resource, resource_id)
        self._note(touch, str(category), decision)
        if isinstance(decision, Deny):
            touch.denied_reason = decision.reason
            raise NotFound("No such record.")
        return decision

    def authorize(
        self,
        verdict: Verdict,
        action: str,
        resource: str,
        participant_id: uuid.UUID | None = None,
        *,
        resource_id: str | None = None,
    ) -> None:
        """Go on if the policy allowed; otherwise record the refusal in the access log and
        answer 403 (or 404 where the record must not exist for the caller)."""
        if not isinstance(verdict, Refusal):
            return
        self.deny(participant_id, action, resource, verdict.reason, resource_id=resource_id)
        if verdict.hide:
            raise NotFound("No such record.")
        raise Forbidden(verdict.detail)

    # -- recording ------------------------------------------------------------------

    def disclosed(
        self,
        participant_id: uuid.UUID,
        category: Category | str,
        basis: str,
        *,
        action: str,
        resource: str,
        resource_id: str | None = None,
    ) -> None:
        """Record a disclosure decided elsewhere in the core (own record, self-service)."""
        touch = self._touch(participant_id, action, resource, resource_id)
        touch.disclosed.setdefault(str(category), {"basis": basis})

    def withheld(
        self,
        participant_id: uuid.UUID,
        category: Category | str,
        reason: str,
        *,
        action: str,
        resource: str,
    ) -> None:
        """Record a category withheld from a response, refused by the decision or by a rule
        of the core that stands before it (a referral that does not exist for the caller)."""
        touch = self._touch(participant_id, action, resource)
        if str(category) not in touch.disclosed:
            touch.withheld.setdefault(str(category), reason)

    def wrote(
        self,
        participant_id: uuid.UUID,
        categories: Iterable[Category | str],
        *,
        action: str,
        resource: str,
        resource_id: str | None = None,
    ) -> None:
        """Record a write of personal data (its categories) about a participant."""
        touch = self._touch(participant_id, action, resource, resource_id)
        touch.succeeded = True
        for category in categories:
            touch.disclosed.setdefault(str(category), {"basis": "write"})

    def accessed(
        self,
        participant_id: uuid.UUID,
        *,
        action: str,
        resource: str,
        resource_id: str | None = None,
    ) -> None:
        """Record an allowed access to records about a participant outside the categories
        (consent records, the disclosure log)."""
        self._touch(participant_id, action, resource, resource_id).succeeded = True

    def deny(
        self,
        participant_id: uuid.UUID | None,
        action: str,
        resource: str,
        reason: str,
        *,
        resource_id: str | None = None,
    ) -> None:
        """Record a refused access (written even though the request fails)."""
        touch = self._touch(participant_id, action, resource, resource_id)
        # The refusal is what the row is about, whatever was looked at on the way to it.
        touch.action, touch.resource = action, resource
        if resource_id is not None:
            touch.resource_id = resource_id
        touch.denied_reason = reason

    def _drafts(self, denials_only: bool) -> list[EventDraft]:
        drafts = []
        for participant_id, touch in self._touches.items():
            denied = touch.denied_reason is not None or not (touch.disclosed or touch.succeeded)
            if denials_only and not denied:
                continue
            withheld = [{"category": c, "reason": r} for c, r in sorted(touch.withheld.items())]
            if touch.denied_reason and not withheld:
                withheld = [{"category": "*", "reason": touch.denied_reason}]
            drafts.append(
                EventDraft(
                    actor=self.caller.subject,
                    actor_org_id=self.caller.org_id,
                    actor_role=self.caller.role,
                    participant_id=participant_id,
                    action=touch.action,
                    resource=touch.resource,
                    resource_id=touch.resource_id,
                    categories=[] if denials_only else sorted(touch.disclosed),
                    withheld=withheld,
                    basis=[]
                    if denials_only
                    else [{"category": c, **b} for c, b in sorted(touch.disclosed.items())],
                    purpose=str(self.caller.purpose),
                    request_id=self.caller.request_id,
                    outcome="denied" if denied else "allowed",
                    occurred_at=self.now,
                )
            )
        return drafts

    def flush_success(self) -> None:
        """Append every access event of a successful request (before its commit)."""
        append_events(self.session, self._drafts(denials_only=False))
        self._touches.clear()

    def flush_failure(self) -> None:
        """After a rollback: append the denials of a failed request, in their own commit."""
        drafts = self._drafts(denials_only=True)
        self._touches.clear()
        if drafts:
            append_events(self.session, drafts)
            self.session.commit()

    def on_finish(self, finish: Callable[[], None]) -> None:
        """Set how `finish` ends the request's scope (by the gate dependency)."""
        self._finish = finish

    def finish(self) -> None:
        """End the request's audit scope and transaction now, in the calling thread (the
        gate dependency's success teardown: events appended, then the commit). Used by
        `one_hop` routes (app/sharing/deps.py); a second call does nothing."""
        finish, self._finish = self._finish, None
        if finish is not None:
            finish()

    @contextmanager
    def auditing(self) -> Iterator["SharingGate"]:
        """The request's audit scope: on success the events join the request's
        transaction (committed by the session dependency after this exits); on failure
        the request's work is rolled back and its denials are committed on their own."""
        try:
            yield self
        except BaseException:
            self.session.rollback()
            try:
                self.flush_failure()
            except Exception:
                # The request fails anyway; the error it raised is the one to answer.
                self.session.rollback()
                log.exception("could not record the denials of a failed request")
            raise
        self.flush_success()
