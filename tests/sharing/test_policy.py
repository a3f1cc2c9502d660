"""The pure "who may act" rules, one table per rule (no HTTP, no database)."""

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from app.sharing import policy
from app.sharing.policy import ALLOWED, Actor, Refusal, Verdict, Work

OWN = uuid.UUID(int=1)
OTHER = uuid.UUID(int=2)
PID = uuid.UUID(int=100)
OTHER_PID = uuid.UUID(int=101)
ME = uuid.UUID(int=500)


def actor(role: str = "practitioner", **kw: Any) -> Actor:
    fields: dict[str, Any] = {
        "org_id": OWN,
        "role": role,
        "token_type": "user",
        "subject": "user:me",
        "user_id": ME,
    }
    fields.update(kw)
    return Actor(**fields)


PARTICIPANT = actor("participant", participant_id=PID, user_id=uuid.UUID(int=501))
PARTNER = actor("partner_system", token_type="client", subject="client:pas", user_id=None)
SUPERVISOR = actor("supervisor")
ORG_ADMIN = actor("org_admin")
SYSTEM_ADMIN = actor("system_admin")
PRACTITIONER = actor()

Case = tuple[str, Callable[[], Verdict], str | None]  # name, rule call, refusal reason or None

CASES: list[Case] = [
    # staff work
    *[
        (
            f"participant {w}",
            lambda w=w: policy.may_do_staff_work(PARTICIPANT, w),
            "participant_token",
        )
        for w in Work
    ],
    *[
        (f"practitioner {w}", lambda w=w: policy.may_do_staff_work(PRACTITIONER, w), None)
        for w in Work
    ],
    (
        "partner registers",
        lambda: policy.may_do_staff_work(PARTNER, Work.register_participant),
        None,
    ),
    # writing a record: recorder or care team
    (
        "recorder writes",
        lambda: policy.may_write_record(PRACTITIONER, source_org_id=OWN, care_team=False),
        None,
    ),
    (
        "care team writes",
        lambda: policy.may_write_record(PARTNER, source_org_id=OTHER, care_team=True),
        None,
    ),
    (
        "stranger writes",
        lambda: policy.may_write_record(PRACTITIONER, source_org_id=OTHER, care_team=False),
        "not_recorder_or_care_team",
    ),
    (
        "participant writes own record",
        lambda: policy.may_write_record(PARTICIPANT, source_org_id=OWN, care_team=True),
        "participant_token",
    ),
    # the person's restrictions: the person, or the recorder / care team
    (
        "person restricts own record",
        lambda: policy.may_record_restriction(
            PARTICIPANT, participant_id=PID, source_org_id=OTHER, care_team=False
        ),
        None,
    ),
    (
        "person restricts another's record",
        lambda: policy.may_record_restriction(
            PARTICIPANT, participant_id=OTHER_PID, source_org_id=OWN, care_team=True
        ),
        "not_own_record",
    ),
    (
        "care team records a restriction",
        lambda: policy.may_record_restriction(
            PARTNER, participant_id=PID, source_org_id=OTHER, care_team=True
        ),
        None,
    ),
    (
        "recorder records a restriction",
        lambda: policy.may_record_restriction(
            PRACTITIONER, participant_id=PID, source_org_id=OWN, care_team=False
        ),
        None,
    ),
    (
        "stranger records a restriction",
        lambda: policy.may_record_restriction(
            PRACTITIONER, participant_id=PID, source_org_id=OTHER, care_team=False
        ),
        "not_recorder_or_care_team",
    ),
    (
        "governance lead records a restriction",
        lambda: policy.may_record_restriction(
            actor("governance_lead"), participant_id=PID, source_org_id=OWN, care_team=True
        ),
        "not_recorder_or_care_team",
    ),
    # objections: the lead organisation's information-governance lead, as a named person
    (
        "lead org's governance lead decides",
        lambda: policy.may_decide_objection(actor("governance_lead"), is_lead=True),
        None,
    ),
    (
        "other org's governance lead decides",
        lambda: policy.may_decide_objection(actor("governance_lead"), is_lead=False),
        "not_governance_lead",
    ),
    (
        "lead org's admin decides",
        lambda: policy.may_decide_objection(ORG_ADMIN, is_lead=True),
        "not_governance_lead",
    ),
    (
        "client with the role name decides",
        lambda: policy.may_decide_objection(
            actor("governance_lead", token_type="client", user_id=None), is_lead=True
        ),
        "not_governance_lead",
    ),
    (
        "participant decides own objection",
        lambda: policy.may_decide_objection(PARTICIPANT, is_lead=True),
        "not_governance_lead",
    ),
    # restricted records: the lead organisation's administrator, by name
    ("lead admin restricts", lambda: policy.may_restrict_record(ORG_ADMIN, is_lead=True), None),
    (
        "other org's admin restricts",
        lambda: policy.may_restrict_record(ORG_ADMIN, is_lead=False),
        "not_lead_admin",
    ),
    (
        "lead practitioner restricts",
        lambda: policy.may_restrict_record(PRACTITIONER, is_lead=True),
        "not_lead_admin",
    ),
    (
        "lead's client restricts",
        lambda: policy.may_restrict_record(
            actor("org_admin", token_type="client", user_id=None), is_lead=True
        ),
        "not_lead_admin",
    ),
    # subject access: the lead organisation's administrator, or the person (bounded)
    (
        "lead admin reads subject access",
        lambda: policy.may_read_subject_access(ORG_ADMIN, participant_id=PID, is_lead=True),
        None,
    ),
    (
        "other admin reads subject access",
        lambda: policy.may_read_subject_access(ORG_ADMIN, participant_id=PID, is_lead=False),
        "not_lead_admin",
    ),
    (
        "lead practitioner reads subject access",
        lambda: policy.may_read_subject_access(PRACTITIONER, participant_id=PID, is_lead=True),
        "not_lead_admin",
    ),
    (
        "person reads own subject access",
        lambda: policy.may_read_subject_access(PARTICIPANT, participant_id=PID, is_lead=False),
        None,
    ),
    (
        "person reads another's subject access",
        lambda: policy.may_read_subject_access(
            PARTICIPANT, participant_id=OTHER_PID, is_lead=False
        ),
        "not_own_record",
    ),
    # consent withdrawal
    (
        "person withdraws own consent",
        lambda: policy.may_withdraw_consent(
            PARTICIPANT,
            participant_id=PID,
            source_org_id=OTHER,
            care_team=False,
            has_consents_write=False,
        ),
        None,
    ),
    (
        "person withdraws someone else's",
        lambda: policy.may_withdraw_consent(
            PARTICIPANT,
            participant_id=OTHER_PID,
            source_org_id=OTHER,
            care_team=False,
            has_consents_write=False,
        ),
        "not_own_record",
    ),
    (
        "care team without consents:write",
        lambda: policy.may_withdraw_consent(
            PRACTITIONER,
            participant_id=PID,
            source_org_id=OTHER,
            care_team=True,
            has_consents_write=False,
        ),
        "missing_scope",
    ),
    (
        "care team with consents:write",
        lambda: policy.may_withdraw_consent(
            PRACTITIONER,
            participant_id=PID,
            source_org_id=OTHER,
            care_team=True,
            has_consents_write=True,
        ),
        None,
    ),
    (
        "stranger with consents:write",
        lambda: policy.may_withdraw_consent(
            PRACTITIONER,
            participant_id=PID,
            source_org_id=OTHER,
            care_team=False,
            has_consents_write=True,
        ),
        "not_recorder_or_care_team",
    ),
    # plan editing
    (
        "plan recorder edits",
        lambda: policy.may_edit_plan(PRACTITIONER, plan_source_org_id=OWN, editing_member=False),
        None,
    ),
    (
        "lead/contributor edits",
        lambda: policy.may_edit_plan(PARTNER, plan_source_org_id=OTHER, editing_member=True),
        None,
    ),
    (
        "no plan yet, member",
        lambda: policy.may_edit_plan(PRACTITIONER, plan_source_org_id=None, editing_member=True),
        None,
    ),
    (
        "peer org edits",
        lambda: policy.may_edit_plan(PRACTITIONER, plan_source_org_id=OTHER, editing_member=False),
        "not_plan_editor",
    ),
    (
        "participant edits plan",
        lambda: policy.may_edit_plan(PARTICIPANT, plan_source_org_id=OWN, editing_member=True),
        "participant_token",
    ),
    # care team
    ("lead changes team", lambda: policy.may_change_care_team(PRACTITIONER, is_lead=True), None),
    ("lead's partner system", lambda: policy.may_change_care_team(PARTNER, is_lead=True), None),
    (
        "non-lead changes team",
        lambda: policy.may_change_care_team(PRACTITIONER, is_lead=False),
        "not_lead_org",
    ),
    (
        "system admin of lead",
        lambda: policy.may_change_care_team(SYSTEM_ADMIN, is_lead=True),
        "role_not_permitted",
    ),
    (
        "participant changes team",
        lambda: policy.may_change_care_team(PARTICIPANT, is_lead=True),
        "role_not_permitted",
    ),
    (
        "lead names practitioner",
        lambda: policy.may_name_lead_practitioner(PRACTITIONER, is_lead=True),
        None,
    ),
    (
        "non-lead names practitioner",
        lambda: policy.may_name_lead_practitioner(PRACTITIONER, is_lead=False),
        "not_lead_org",
    ),
    # disclosure log
    (
        "person reads own log",
        lambda: policy.may_read_disclosure_log(
            PARTICIPANT, participant_id=PID, lead_practitioner_id=None, is_lead=False
        ),
        None,
    ),
    (
        "person reads another's log",
        lambda: policy.may_read_disclosure_log(
            PARTICIPANT, participant_id=OTHER_PID, lead_practitioner_id=None, is_lead=False
        ),
        "not_log_reader",
    ),
    (
        "lead practitioner reads",
        lambda: policy.may_read_disclosure_log(
            PRACTITIONER, participant_id=PID, lead_practitioner_id=ME, is_lead=False
        ),
        None,
    ),
    (
        "other practitioner of the lead org",
        lambda: policy.may_read_disclosure_log(
            PRACTITIONER, participant_id=PID, lead_practitioner_id=OTHER_PID, is_lead=True
        ),
        "not_log_reader",
    ),
    (
        "lead org admin",
        lambda: policy.may_read_disclosure_log(
            ORG_ADMIN, participant_id=PID, lead_practitioner_id=None, is_lead=True
        ),
        None,
    ),
    (
        "other org admin",
        lambda: policy.may_read_disclosure_log(
            ORG_ADMIN, participant_id=PID, lead_practitioner_id=None, is_lead=False
        ),
        "not_log_reader",
    ),
    (
        "supervisor of the lead org",
        lambda: policy.may_read_disclosure_log(
            SUPERVISOR, participant_id=PID, lead_practitioner_id=None, is_lead=True
        ),
        "not_log_reader",
    ),
    (
        "partner of the lead org",
        lambda: policy.may_read_disclosure_log(
            PARTNER, participant_id=PID, lead_practitioner_id=None, is_lead=True
        ),
        "not_log_reader",
    ),
    # break-glass
    ("practitioner breaks glass", lambda: policy.may_break_glass(PRACTITIONER), None),
    ("supervisor breaks glass", lambda: policy.may_break_glass(SUPERVISOR), None),
    ("partner breaks glass", lambda: policy.may_break_glass(PARTNER), "role_not_permitted"),
    ("admin breaks glass", lambda: policy.may_break_glass(ORG_ADMIN), "role_not_permitted"),
    (
        "practitioner-role client breaks glass",
        lambda: policy.may_break_glass(actor(token_type="client")),
        "role_not_permitted",
    ),
    (
        "supervisor reviews",
        lambda: policy.may_review_break_glass(SUPERVISOR, grant_actor="user:other"),
        None,
    ),
    ("org admin reviews", lambda: policy.may_review_break_glass(ORG_ADMIN), None),
    (
        "practitioner reviews",
        lambda: policy.may_review_break_glass(PRACTITIONER),
        "role_not_permitted",
    ),
    (
        "own grant",
        lambda: policy.may_review_break_glass(SUPERVISOR, grant_actor="user:me"),
        "own_access",
    ),
    # alerts and appointments
    (
        "raiser closes",
        lambda: policy.may_close_alert(PRACTITIONER, source_org_id=OWN, care_team=False),
        None,
    ),
    (
        "care team closes",
        lambda: policy.may_close_alert(PRACTITIONER, source_org_id=OTHER, care_team=True),
        None,
    ),
    (
        "stranger closes",
        lambda: policy.may_close_alert(PRACTITIONER, source_org_id=OTHER, care_team=False),
        "not_recorder_or_care_team",
    ),
    (
        "participant closes",
        lambda: policy.may_close_alert(PARTICIPANT, source_org_id=OWN, care_team=True),
        "not_recorder_or_care_team",
    ),
    (
        "booker updates",
        lambda: policy.may_update_appointment(PRACTITIONER, source_org_id=OWN, with_org_id=None),
        None,
    ),
    (
        "host updates",
        lambda: policy.may_update_appointment(PRACTITIONER, source_org_id=OTHER, with_org_id=OWN),
        None,
    ),
    (
        "third org updates",
        lambda: policy.may_update_appointment(PRACTITIONER, source_org_id=OTHER, with_org_id=None),
        "not_booker_or_host",
    ),
    # referrals
    (
        "referrer edits draft",
        lambda: policy.may_edit_referral_draft(PRACTITIONER, from_org_id=OWN),
        None,
    ),
    (
        "recipient edits draft",
        lambda: policy.may_edit_referral_draft(PRACTITIONER, from_org_id=OTHER),
        "not_referrer",
    ),
    (
        "referrer submits",
        lambda: policy.may_act_on_referral(
            PRACTITIONER, referrer_action=True, action="submit", from_org_id=OWN, to_org_id=OTHER
        ),
        None,
    ),
    (
        "referrer accepts",
        lambda: policy.may_act_on_referral(
            PRACTITIONER, referrer_action=False, action="accept", from_org_id=OWN, to_org_id=OTHER
        ),
        "not_receiving_org",
    ),
    (
        "recipient withdraws",
        lambda: policy.may_act_on_referral(
            PRACTITIONER, referrer_action=True, action="withdraw", from_org_id=OTHER, to_org_id=OWN
        ),
        "not_referring_org",
    ),
    (
        "participant of the recipient org",
        lambda: policy.may_act_on_referral(
            actor("participant", participant_id=PID),
            referrer_action=False,
            action="accept",
            from_org_id=OTHER,
            to_org_id=OWN,
        ),
        "not_receiving_org",
    ),
    # protocols and directory
    (
        "system admin protocol",
        lambda: policy.may_manage_protocol(SYSTEM_ADMIN, source_org_id=OTHER),
        None,
    ),
    (
        "org admin own protocol",
        lambda: policy.may_manage_protocol(ORG_ADMIN, source_org_id=OWN),
        None,
    ),
    (
        "org admin other's protocol",
        lambda: policy.may_manage_protocol(ORG_ADMIN, source_org_id=OTHER),
        "not_protocol_owner",
    ),
    (
        "org admin kind-wide protocol",
        lambda: policy.may_manage_protocol(ORG_ADMIN, source_org_id=None),
        "not_protocol_owner",
    ),
    (
        "practitioner protocol",
        lambda: policy.may_manage_protocol(PRACTITIONER, source_org_id=OWN),
        "not_protocol_owner",
    ),
    (
        "provider admin edits entry",
        lambda: policy.may_edit_service(ORG_ADMIN, provider_org_id=OWN),
        None,
    ),
    (
        "other admin edits entry",
        lambda: policy.may_edit_service(ORG_ADMIN, provider_org_id=OTHER),
        "not_provider_admin",
    ),
    (
        "system admin edits entry",
        lambda: policy.may_edit_service(SYSTEM_ADMIN, provider_org_id=OTHER),
        None,
    ),
    # case notes
    ("practitioner writes a note", lambda: policy.may_write_case_note(PRACTITIONER), None),
    ("partner writes a note", lambda: policy.may_write_case_note(PARTNER), None),
    (
        "participant writes a note",
        lambda: policy.may_write_case_note(PARTICIPANT),
        "participant_token",
    ),
    (
        "author org amends",
        lambda: policy.may_amend_case_note(PRACTITIONER, source_org_id=OWN),
        None,
    ),
    (
        "other org amends",
        lambda: policy.may_amend_case_note(PRACTITIONER, source_org_id=OTHER),
        "not_author_org",
    ),
    (
        "participant amends",
        lambda: policy.may_amend_case_note(PARTICIPANT, source_org_id=OWN),
        "not_author_org",
    ),
    # documents and endings
    (
        "note's org attaches",
        lambda: policy.may_attach_document(PRACTITIONER, note_source_org_id=OWN),
        None,
    ),
    (
        "other org attaches",
        lambda: policy.may_attach_document(PRACTITIONER, note_source_org_id=OTHER),
        "not_author_org",
    ),
    (
        "participant attaches",
        lambda: policy.may_attach_document(PARTICIPANT, note_source_org_id=OWN),
        "not_author_org",
    ),
    ("lead keeps ending", lambda: policy.may_record_ending(PRACTITIONER, is_lead=True), None),
    (
        "contributor keeps ending",
        lambda: policy.may_record_ending(PRACTITIONER, is_lead=False),
        "not_lead_org",
    ),
    (
        "participant keeps ending",
        lambda: policy.may_record_ending(PARTICIPANT, is_lead=True),
        "not_lead_org",
    ),
    # referral milestones and update requests
    (
        "recipient records a milestone",
        lambda: policy.may_record_milestone(PRACTITIONER, to_org_id=OWN),
        None,
    ),
    (
        "referrer records a milestone",
        lambda: policy.may_record_milestone(PRACTITIONER, to_org_id=OTHER),
        "not_receiving_org",
    ),
    (
        "participant records a milestone",
        lambda: policy.may_record_milestone(PARTICIPANT, to_org_id=OWN),
        "not_receiving_org",
    ),
    (
        "referrer asks for an update",
        lambda: policy.may_request_referral_update(PRACTITIONER, from_org_id=OWN),
        None,
    ),
    (
        "recipient asks for an update",
        lambda: policy.may_request_referral_update(PRACTITIONER, from_org_id=OTHER),
        "not_referring_org",
    ),
    # plan steps (issue 8 hole 11)
    *[
        (name, lambda a=a, kw=kw: policy.may_update_step(a, **kw), reason)
        for name, a, kw, reason in [
            (
                "lead updates any step",
                PRACTITIONER,
                dict(is_lead=True, is_plan_editor=True, owns_step=False, fields={"description"}),
                None,
            ),
            (
                "contributor's own step",
                PARTNER,
                dict(is_lead=False, is_plan_editor=True, owns_step=True, fields={"description"}),
                None,
            ),
            (
                "contributor, another's step",
                PARTNER,
                dict(is_lead=False, is_plan_editor=True, owns_step=False, fields={"status"}),
                "not_step_owner",
            ),
            (
                "non-editor owner, outcome",
                PARTNER,
                dict(
                    is_lead=False,
                    is_plan_editor=False,
                    owns_step=True,
                    fields={"status", "outcome_note"},
                ),
                None,
            ),
            (
                "non-editor owner, description",
                PARTNER,
                dict(is_lead=False, is_plan_editor=False, owns_step=True, fields={"description"}),
                "outcome_only",
            ),
            (
                "participant, own step outcome",
                PARTICIPANT,
                dict(is_lead=False, is_plan_editor=False, owns_step=True, fields={"status"}),
                None,
            ),
            (
                "participant, own step due date",
                PARTICIPANT,
                dict(is_lead=False, is_plan_editor=False, owns_step=True, fields={"due_date"}),
                "outcome_only",
            ),
            (
                "participant, a practitioner's step",
                PARTICIPANT,
                dict(is_lead=False, is_plan_editor=False, owns_step=False, fields={"status"}),
                "not_step_owner",
            ),
        ]
    ],
    # participant PATCH
    *[
        (name, lambda a=a, kw=kw: policy.may_update_participant(a, **kw), reason)
        for name, a, kw, reason in [
            (
                "recorder patches",
                PRACTITIONER,
                dict(
                    source_org_id=OWN,
                    care_team=False,
                    is_lead=False,
                    withheld=[],
                    names_lead_practitioner=False,
                ),
                None,
            ),
            (
                "stranger patches",
                PRACTITIONER,
                dict(
                    source_org_id=OTHER,
                    care_team=False,
                    is_lead=False,
                    withheld=[],
                    names_lead_practitioner=False,
                ),
                "not_recorder_or_care_team",
            ),
            (
                "care team, hidden category",
                PARTNER,
                dict(
                    source_org_id=OTHER,
                    care_team=True,
                    is_lead=False,
                    withheld=["contact"],
                    names_lead_practitioner=False,
                ),
                "category_withheld",
            ),
            (
                "non-lead names practitioner",
                PRACTITIONER,
                dict(
                    source_org_id=OTHER,
                    care_team=True,
                    is_lead=False,
                    withheld=[],
                    names_lead_practitioner=True,
                ),
                "not_lead_org",
            ),
            (
                "lead names practitioner",
                PRACTITIONER,
                dict(
                    source_org_id=OWN,
                    care_team=True,
                    is_lead=True,
                    withheld=[],
                    names_lead_practitioner=True,
                ),
                None,
            ),
        ]
    ],
    # categories of a change
    ("change of visible categories", lambda: policy.may_change_categories([]), None),
    (
        "change touching a withheld category",
        lambda: policy.may_change_categories(["contact"]),
        "category_withheld",
    ),
    # webhooks: the organisation's admin or its partner systems, own subscriptions only
    ("org admin manages webhooks", lambda: policy.may_manage_webhooks(ORG_ADMIN), None),
    ("partner manages webhooks", lambda: policy.may_manage_webhooks(PARTNER), None),
    (
        "practitioner manages webhooks",
        lambda: policy.may_manage_webhooks(PRACTITIONER),
        "not_org_admin_or_partner",
    ),
    (
        "participant manages webhooks",
        lambda: policy.may_manage_webhooks(PARTICIPANT),
        "not_org_admin_or_partner",
    ),
    (
        "own subscription",
        lambda: policy.may_use_subscription(PARTNER, subscription_org_id=OWN),
        None,
    ),
    (
        "other organisation's subscription",
        lambda: policy.may_use_subscription(ORG_ADMIN, subscription_org_id=OTHER),
        "other_organisation",
    ),
    # consent-withdrawal notices: the lead, the consent's recorder, the person themself
    *[
        (
            name,
            lambda kw=kw, who=who: policy.may_read_consent_notices(who, participant_id=PID, **kw),
            reason,
        )
        for name, who, kw, reason in [
            ("lead reads notices", PRACTITIONER, {"is_lead": True, "is_recorder": False}, None),
            ("recorder reads notices", PARTNER, {"is_lead": False, "is_recorder": True}, None),
            (
                "other org reads notices",
                PRACTITIONER,
                {"is_lead": False, "is_recorder": False},
                "not_lead_or_recorder",
            ),
            (
                "person reads own notices",
                PARTICIPANT,
                {"is_lead": False, "is_recorder": False},
                None,
            ),
            (
                "another person's notices",
                actor("participant", participant_id=OTHER_PID),
                {"is_lead": False, "is_recorder": False},
                "not_own_record",
            ),
        ]
    ],
    # prison movements: partner systems of prison and probation organisations
    (
        "prison system sends movement",
        lambda: policy.may_record_movement(PARTNER, org_kind="prison_healthcare"),
        None,
    ),
    (
        "probation system sends movement",
        lambda: policy.may_record_movement(PARTNER, org_kind="probation"),
        None,
    ),
    (
        "housing system sends movement",
        lambda: policy.may_record_movement(PARTNER, org_kind="housing"),
        "not_prison_or_probation",
    ),
    (
        "prison practitioner sends movement",
        lambda: policy.may_record_movement(PRACTITIONER, org_kind="prison_healthcare"),
        "not_partner_system",
    ),
]


@pytest.mark.parametrize(
    ("rule", "reason"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES]
)
def test_rule(rule: Callable[[], Verdict], reason: str | None) -> None:
    verdict = rule()
    if reason is None:
        assert verdict is ALLOWED
    else:
        assert isinstance(verdict, Refusal)
        assert verdict.reason == reason
        assert verdict.detail  # every refusal tells the caller why, in words


def test_hidden_refusals_are_404s() -> None:
    """Only a participant asking about someone else gets a 'does not exist' refusal."""
    verdict = policy.may_withdraw_consent(
        PARTICIPANT,
        participant_id=OTHER_PID,
        source_org_id=OWN,
        care_team=False,
        has_consents_write=True,
    )
    assert isinstance(verdict, Refusal) and verdict.hide
    staff = policy.may_write_record(PRACTITIONER, source_org_id=OTHER, care_team=False)
    assert isinstance(staff, Refusal) and not staff.hide
