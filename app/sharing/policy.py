"""Who may *act*: pure rules beside the sharing decision (which says what data flows).

Every "may this caller do this" question of the services is answered here, from plain
facts, like `decide()`: nothing reads the database, the clock or the request. Each rule
returns `ALLOWED` or a `Refusal` (a machine reason, the plain-language detail a problem
response carries, and whether the thing must not exist for the caller: 404, not 403).
The gate's `authorize()` turns a refusal into the error *and* an access-log row, so no
service raises 403 on its own (tests/sharing/test_policy.py tables every rule).
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from app.auth.scopes import BREAK_GLASS_ROLES
from app.auth.tokens import PARTNER_ROLE
from app.models.organisation import Role
from app.models.plan import OUTCOME_FIELDS

USER_TOKEN = "user"


@dataclass(frozen=True)
class Actor:
    """The facts about a caller that the rules use."""

    org_id: uuid.UUID
    role: str
    token_type: str
    subject: str
    user_id: uuid.UUID | None = None
    participant_id: uuid.UUID | None = None

    @property
    def is_participant(self) -> bool:
        return self.role == Role.participant


@dataclass(frozen=True)
class Refusal:
    """Why the caller may not act: `reason` for the log, `detail` for the caller."""

    reason: str
    detail: str
    hide: bool = False  # the record must not exist for the caller (404)

    allowed = False


@dataclass(frozen=True)
class Allowed:
    allowed = True


ALLOWED = Allowed()
Verdict = Allowed | Refusal


class Work(StrEnum):
    """Records only staff create (a participant records their own steps' outcomes only)."""

    register_participant = "register_participant"
    record_consent = "record_consent"
    make_referral = "make_referral"
    book_appointment = "book_appointment"
    raise_alert = "raise_alert"
    record_screening = "record_screening"
    add_goal = "add_goal"
    add_step = "add_step"
    read_notices = "read_notices"
    read_worklists = "read_worklists"


_STAFF_ONLY_DETAIL = {
    Work.register_participant: "Participants cannot register records.",
    Work.record_consent: "Consent is recorded with a practitioner, after discussion.",
    Work.make_referral: "Participants cannot make referrals.",
    Work.book_appointment: "Ask your practitioner to book appointments.",
    Work.raise_alert: "Participants do not raise risk alerts.",
    Work.record_screening: "Screenings are recorded by practitioners.",
    Work.add_goal: "Agree new goals with your practitioner; you record your own steps.",
    Work.add_step: "Agree new steps with your practitioner; you record your own steps.",
    Work.read_notices: "Notices are for organisations' staff and systems.",
    Work.read_worklists: "Reminder and follow-up lists are for organisations.",
}

# Roles that act for an organisation on its records (everyone but the participant).
_STAFF_ROLES = frozenset(
    {
        Role.practitioner,
        Role.supervisor,
        Role.org_admin,
        Role.system_admin,
        Role.governance_lead,
        PARTNER_ROLE,
    }
)
_CARE_TEAM_ROLES = frozenset({Role.practitioner, Role.supervisor, Role.org_admin, PARTNER_ROLE})
_REVIEWER_ROLES = frozenset({Role.supervisor, Role.org_admin})


def may_do_staff_work(actor: Actor, work: Work) -> Verdict:
    """Staff work: anything but a participant's own token."""
    if actor.is_participant:
        return Refusal("participant_token", _STAFF_ONLY_DETAIL[work])
    return ALLOWED


def may_write_record(actor: Actor, *, source_org_id: uuid.UUID, care_team: bool) -> Verdict:
    """Change a person's record or its consents: the recording organisation or the care team."""
    if actor.is_participant:
        return Refusal(
            "participant_token", "Only the recording organisation and the care team do this."
        )
    if source_org_id == actor.org_id or care_team:
        return ALLOWED
    return Refusal(
        "not_recorder_or_care_team", "Only the recording organisation and the care team do this."
    )


def may_withdraw_consent(
    actor: Actor,
    *,
    participant_id: uuid.UUID,
    source_org_id: uuid.UUID,
    care_team: bool,
    has_consents_write: bool,
) -> Verdict:
    """Withdraw consent: the person themself, or the recorder/care team holding consents:write."""
    if actor.is_participant:
        if actor.participant_id == participant_id:
            return ALLOWED
        return Refusal("not_own_record", "No such participant.", hide=True)
    if not has_consents_write:
        return Refusal("missing_scope", "The token lacks the scope(s): consents:write.")
    if source_org_id == actor.org_id or care_team:
        return ALLOWED
    return Refusal(
        "not_recorder_or_care_team",
        "Only the participant or their care team records a withdrawal.",
    )


def may_edit_plan(
    actor: Actor, *, plan_source_org_id: uuid.UUID | None, editing_member: bool
) -> Verdict:
    """Goals, steps and reviews: the plan's recorder and lead/contributor organisations."""
    if actor.is_participant:
        return Refusal(
            "participant_token",
            "Only the care team's lead and contributing organisations edit the plan.",
        )
    if plan_source_org_id == actor.org_id or editing_member:
        return ALLOWED
    return Refusal(
        "not_plan_editor",
        "Only the care team's lead and contributing organisations edit the plan.",
    )


def may_update_participant(
    actor: Actor,
    *,
    source_org_id: uuid.UUID,
    care_team: bool,
    is_lead: bool,
    withheld: Sequence[str],
    names_lead_practitioner: bool,
) -> Verdict:
    """A PATCH of the record: recorder or care team, only categories the caller may see,
    and only the lead organisation names the lead practitioner."""
    writer = may_write_record(actor, source_org_id=source_org_id, care_team=care_team)
    if not writer.allowed:
        return writer
    categories = may_change_categories(withheld)
    if not categories.allowed:
        return categories
    if names_lead_practitioner:
        return may_name_lead_practitioner(actor, is_lead=is_lead)
    return ALLOWED


def may_change_categories(withheld: Sequence[str]) -> Verdict:
    """A change may touch only categories the caller may see (`withheld`: those it may not)."""
    if withheld:
        return Refusal(
            "category_withheld",
            f"You may not change {', '.join(withheld)} information of this participant.",
        )
    return ALLOWED


def may_update_step(
    actor: Actor, *, is_lead: bool, is_plan_editor: bool, owns_step: bool, fields: set[str]
) -> Verdict:
    """The lead organisation's staff update any step; every other partner only the steps
    it owns (an editing partner all of the step, any other owner, and the participant
    for their own steps, only status and outcome)."""
    if actor.is_participant:
        if not owns_step:
            return Refusal("not_step_owner", "You record the outcome of your own steps only.")
        if fields - OUTCOME_FIELDS:
            return Refusal(
                "outcome_only", "You may change only the status and outcome_note of your own steps."
            )
        return ALLOWED
    if is_lead:
        return ALLOWED
    if not owns_step:
        return Refusal(
            "not_step_owner", "Only the lead organisation and the step's owner update this step."
        )
    if not is_plan_editor and fields - OUTCOME_FIELDS:
        return Refusal(
            "outcome_only", "As the step's owner you may change only its status and outcome_note."
        )
    return ALLOWED


def may_change_care_team(actor: Actor, *, is_lead: bool) -> Verdict:
    """Add or end care-team memberships: staff of the current lead organisation."""
    if actor.is_participant or actor.role not in _CARE_TEAM_ROLES:
        return Refusal("role_not_permitted", "Only the lead organisation changes the care team.")
    if not is_lead:
        return Refusal("not_lead_org", "Only the lead organisation changes the care team.")
    return ALLOWED


def may_name_lead_practitioner(actor: Actor, *, is_lead: bool) -> Verdict:
    """Only the lead organisation names the lead practitioner."""
    if is_lead and not actor.is_participant:
        return ALLOWED
    return Refusal("not_lead_org", "Only the lead organisation names the lead practitioner.")


def may_read_disclosure_log(
    actor: Actor,
    *,
    participant_id: uuid.UUID,
    lead_practitioner_id: uuid.UUID | None,
    is_lead: bool,
) -> Verdict:
    """The person, their lead practitioner, and the lead organisation's administrator."""
    if actor.is_participant and actor.participant_id == participant_id:
        return ALLOWED
    if actor.user_id is not None and lead_practitioner_id == actor.user_id:
        return ALLOWED
    if actor.role == Role.org_admin and is_lead:
        return ALLOWED
    return Refusal(
        "not_log_reader",
        "The disclosure log is for the participant, their lead practitioner and the lead "
        "organisation's administrator.",
    )


def may_record_restriction(
    actor: Actor, *, participant_id: uuid.UUID, source_org_id: uuid.UUID, care_team: bool
) -> Verdict:
    """Record or lift a restriction: the person themself, or their care team (with them)."""
    if actor.is_participant:
        if actor.participant_id == participant_id:
            return ALLOWED
        return Refusal("not_own_record", "No such participant.", hide=True)
    if actor.role in _CARE_TEAM_ROLES and (source_org_id == actor.org_id or care_team):
        return ALLOWED
    return Refusal(
        "not_recorder_or_care_team",
        "Only the participant or their care team records or lifts a restriction.",
    )


def may_decide_objection(actor: Actor, *, is_lead: bool) -> Verdict:
    """Objections are decided by an information-governance lead of the lead organisation."""
    if actor.role == Role.governance_lead and actor.token_type == USER_TOKEN and is_lead:
        return ALLOWED
    return Refusal(
        "not_governance_lead",
        "Only an information-governance lead of the lead organisation decides objections.",
    )


def may_restrict_record(actor: Actor, *, is_lead: bool) -> Verdict:
    """Restrict a record (or lift it): the lead organisation's administrator, by name."""
    if actor.role == Role.org_admin and actor.token_type == USER_TOKEN and is_lead:
        return ALLOWED
    return Refusal(
        "not_lead_admin", "Only the lead organisation's administrator restricts a record."
    )


def may_read_subject_access(actor: Actor, *, participant_id: uuid.UUID, is_lead: bool) -> Verdict:
    """Subject access: the lead organisation's administrator, or the person (bounded)."""
    if actor.is_participant:
        if actor.participant_id == participant_id:
            return ALLOWED
        return Refusal("not_own_record", "No such participant.", hide=True)
    if actor.role == Role.org_admin and actor.token_type == USER_TOKEN and is_lead:
        return ALLOWED
    return Refusal(
        "not_lead_admin",
        "Subject access is answered by the lead organisation's administrator.",
    )


def may_break_glass(actor: Actor) -> Verdict:
    """Emergency access: practitioners and supervisors, as named people (user tokens)."""
    if actor.token_type == USER_TOKEN and actor.role in BREAK_GLASS_ROLES:
        return ALLOWED
    return Refusal("role_not_permitted", "Only practitioners and supervisors may break the glass.")


def may_review_break_glass(actor: Actor, *, grant_actor: str | None = None) -> Verdict:
    """Reviews: supervisors and org admins as named people, never of their own access."""
    if actor.token_type != USER_TOKEN or actor.role not in _REVIEWER_ROLES:
        return Refusal(
            "role_not_permitted",
            "Only supervisors and organisation administrators review break-glass.",
        )
    if grant_actor is not None and grant_actor == actor.subject:
        return Refusal("own_access", "Nobody reviews their own break-glass access.")
    return ALLOWED


def may_close_alert(actor: Actor, *, source_org_id: uuid.UUID, care_team: bool) -> Verdict:
    """Close a risk alert: the raising organisation and the care team."""
    if actor.is_participant or (source_org_id != actor.org_id and not care_team):
        return Refusal(
            "not_recorder_or_care_team",
            "Only the raising organisation and the care team close an alert.",
        )
    return ALLOWED


def may_update_appointment(
    actor: Actor, *, source_org_id: uuid.UUID, with_org_id: uuid.UUID | None
) -> Verdict:
    """Change or record attendance: the organisation that booked it or hosts it."""
    if not actor.is_participant and actor.org_id in {source_org_id, with_org_id}:
        return ALLOWED
    return Refusal(
        "not_booker_or_host",
        "Only the organisation that booked or hosts it updates an appointment.",
    )


def may_edit_referral_draft(actor: Actor, *, from_org_id: uuid.UUID) -> Verdict:
    """Drafts are changed by the referring organisation only."""
    if actor.is_participant or actor.org_id != from_org_id:
        return Refusal("not_referrer", "Only the referring organisation changes a referral.")
    return ALLOWED


def may_act_on_referral(
    actor: Actor,
    *,
    referrer_action: bool,
    action: str,
    from_org_id: uuid.UUID,
    to_org_id: uuid.UUID,
) -> Verdict:
    """Submit/withdraw are the referrer's; accept/decline/start/complete the recipient's."""
    party = from_org_id if referrer_action else to_org_id
    if not actor.is_participant and actor.org_id == party:
        return ALLOWED
    side = "referring" if referrer_action else "receiving"
    return Refusal(f"not_{side}_org", f"Only the {side} organisation may {action} this referral.")


def may_manage_protocol(actor: Actor, *, source_org_id: uuid.UUID | None) -> Verdict:
    """System admins manage any protocol; an org admin those their organisation shares from."""
    if actor.role == Role.system_admin:
        return ALLOWED
    if actor.role == Role.org_admin and source_org_id == actor.org_id:
        return ALLOWED
    return Refusal(
        "not_protocol_owner",
        "Only a system administrator, or the source organisation's administrator, manages "
        "this protocol.",
    )


def may_edit_service(actor: Actor, *, provider_org_id: uuid.UUID) -> Verdict:
    """Directory entries: the provider's organisation admin or a system admin."""
    if actor.role == Role.system_admin:
        return ALLOWED
    if actor.role == Role.org_admin and actor.org_id == provider_org_id:
        return ALLOWED
    return Refusal(
        "not_provider_admin",
        "Only the provider's organisation admin or a system admin edits this entry.",
    )


# Who outranks whom when administering accounts. A partner-system client acts for its
# whole organisation (no care-team user behind it, organisation-wide scopes), so it ranks
# with the organisation's administrators: an org admin of that organisation or a system
# admin administers it, nobody below.
ROLE_RANK: dict[str, int] = {
    Role.participant: 0,
    Role.practitioner: 1,
    Role.supervisor: 2,
    Role.org_admin: 3,
    Role.system_admin: 4,
    Role.governance_lead: 2,
    Role.commissioner: 1,
}
CLIENT_RANK = ROLE_RANK[Role.org_admin]


def may_administer_account(actor_role: str, account_rank: int) -> Verdict:
    """Nobody administers (resets, deactivates, re-scopes) an account ranked above them."""
    if ROLE_RANK.get(actor_role, -1) < account_rank:
        return Refusal(
            "outranked", "You may not administer an account whose role is above your own."
        )
    return ALLOWED


def may_grant_role(actor_role: str, role: str) -> Verdict:
    """Nobody gives an account a role above their own."""
    if ROLE_RANK.get(actor_role, -1) < ROLE_RANK[role]:
        return Refusal("outranked", "You may not grant a role above your own.")
    return ALLOWED


def is_staff_role(role: str) -> bool:
    """True for roles that act for an organisation (not a participant's own account)."""
    return role in _STAFF_ROLES


_WEBHOOK_ROLES = frozenset({Role.org_admin, PARTNER_ROLE})


def may_manage_webhooks(actor: Actor) -> Verdict:
    """Webhook subscriptions and the event feed: the organisation's admin or its systems."""
    if actor.role in _WEBHOOK_ROLES:
        return ALLOWED
    return Refusal(
        "not_org_admin_or_partner",
        "Webhooks are managed by the organisation's admin or its partner systems.",
    )


def may_use_subscription(actor: Actor, *, subscription_org_id: uuid.UUID) -> Verdict:
    """A subscription (and its deliveries) exists only for its own organisation."""
    if actor.org_id == subscription_org_id:
        return ALLOWED
    return Refusal("other_organisation", "No such subscription.", hide=True)


def may_read_consent_notices(
    actor: Actor, *, participant_id: uuid.UUID, is_lead: bool, is_recorder: bool
) -> Verdict:
    """Who was told of a withdrawal: the lead organisation, the consent's recorder, the person."""
    if actor.is_participant:
        if actor.participant_id == participant_id:
            return ALLOWED
        return Refusal("not_own_record", "No such record.", hide=True)
    if is_lead or is_recorder:
        return ALLOWED
    return Refusal(
        "not_lead_or_recorder",
        "Only the lead organisation and the consent's recorder follow up its notices.",
    )


_MOVEMENT_SENDER_KINDS = frozenset({"prison_healthcare", "probation"})


def may_record_movement(actor: Actor, *, org_kind: str) -> Verdict:
    """Prison movements come from the systems of prison and probation organisations."""
    if actor.role != PARTNER_ROLE:
        return Refusal("not_partner_system", "Movements are sent by partner systems.")
    if org_kind not in _MOVEMENT_SENDER_KINDS:
        return Refusal(
            "not_prison_or_probation", "Only prison and probation systems send movements."
        )
    return ALLOWED


# -- continuity (case notes, documents, engagement) -----------------------------------


def may_write_case_note(actor: Actor) -> Verdict:
    """Case notes are written by staff of an organisation in the person's care."""
    if actor.is_participant:
        return Refusal("participant_token", "Case notes are written by practitioners.")
    return ALLOWED


def may_amend_case_note(actor: Actor, *, source_org_id: uuid.UUID) -> Verdict:
    """Only the author's organisation amends a note (its record, its responsibility)."""
    if actor.is_participant or actor.org_id != source_org_id:
        return Refusal("not_author_org", "Only the organisation that wrote a note amends it.")
    return ALLOWED


def may_attach_document(actor: Actor, *, note_source_org_id: uuid.UUID) -> Verdict:
    """Files are attached to a note by the organisation that wrote it."""
    if actor.is_participant or actor.org_id != note_source_org_id:
        return Refusal(
            "not_author_org", "Only the organisation that wrote a note attaches files to it."
        )
    return ALLOWED


def may_record_ending(actor: Actor, *, is_lead: bool) -> Verdict:
    """The ending checklist is kept by the lead organisation's staff."""
    if actor.is_participant or not is_lead:
        return Refusal("not_lead_org", "Only the lead organisation keeps the ending checklist.")
    return ALLOWED


def may_attach_referral_document(
    actor: Actor, *, from_org_id: uuid.UUID, to_org_id: uuid.UUID
) -> Verdict:
    """Files are attached to a referral by either party (a referral letter, an assessment)."""
    if actor.is_participant or actor.org_id not in (from_org_id, to_org_id):
        return Refusal(
            "not_referral_party", "Only the referring or receiving organisation attaches files."
        )
    return ALLOWED


def may_record_milestone(actor: Actor, *, to_org_id: uuid.UUID) -> Verdict:
    """Milestones (first contact, attended, ...) are the receiving organisation's to record."""
    if actor.is_participant or actor.org_id != to_org_id:
        return Refusal("not_receiving_org", "Only the receiving organisation records milestones.")
    return ALLOWED


def may_request_referral_update(actor: Actor, *, from_org_id: uuid.UUID) -> Verdict:
    """The referring organisation may ask the recipient for an update."""
    if actor.is_participant or actor.org_id != from_org_id:
        return Refusal("not_referring_org", "Only the referring organisation asks for an update.")
    return ALLOWED
